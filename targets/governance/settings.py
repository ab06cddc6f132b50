"""`targets.governance` settings in mlspec.yaml. Every default works without the file."""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from compiler.language.settings_keys import CAMEL
from targets.governance.codeowners import is_owner, is_pattern

# Art. 12 with Art. 19 and 26(6): logs of a high-risk system are kept for at least six months.
HIGH_RISK_MIN_RETENTION_DAYS = 183


def _owner(value: str) -> str:
    if not is_owner(value):
        raise ValueError(f"{value!r} is not a CODEOWNERS owner: @user, @org/team or an email")
    return value


def _prefix(value: str) -> str:
    if value and not is_pattern(value.strip("/")):
        raise ValueError(f"{value!r} is not a plain relative path ([A-Za-z0-9._-] segments separated by '/')")
    return value


class GovernanceSettings(BaseModel):
    # camelCase keys in mlspec.yaml; the old snake_case names still load, with warning MLS620.
    model_config = ConfigDict(extra="forbid", frozen=True, **CAMEL)

    codeowners_path: Literal["CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".gitlab/CODEOWNERS"] = Field(
        "CODEOWNERS", description="Where CODEOWNERS goes. The root is read by both GitHub and GitLab.")
    include_specs: bool = Field(
        True, description="Also own the spec files (when the specs live in the repository holding CODEOWNERS).")
    spec_prefix: Annotated[str, AfterValidator(_prefix)] = Field(
        "", description="Directory of the spec repository inside the repository holding CODEOWNERS.")
    default_owners: tuple[Annotated[str, AfterValidator(_owner)], ...] = Field(
        (), description="Owners of everything else (`*`) and of the CODEOWNERS file itself.")
    license: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.+-]{0,63}$")] | None = Field(
        None, description="Hugging Face license id for the model cards, e.g. apache-2.0 or other.")
    language: tuple[Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")], ...] = Field(
        (), description="ISO 639 language codes for the model cards' front matter.")
    pipeline_tag: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,64}$")] | None = Field(
        None, description="Hugging Face task for the card, e.g. tabular-classification.")
    provider: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] | None = Field(
        None, description="The provider (EU AI Act Art. 3(3)) named in the Annex IV documentation of high-risk "
                          "models, e.g. your organisation's legal name.")
    log_retention_days: int = Field(
        HIGH_RISK_MIN_RETENTION_DAYS, ge=1, le=36_500,
        description="How long deployment events and payload logs are kept; at least 183 for high risk.")


def project_settings(value: object) -> GovernanceSettings:
    """The settings object the core hands over, or the defaults when a caller passes none."""
    return value if isinstance(value, GovernanceSettings) else GovernanceSettings()
