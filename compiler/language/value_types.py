"""The spec language's value types: validated strings (names, durations, pins, emails, quantities,
metric names, URLs) and `Strict`, the base of every section. A value check with a stable diagnostic code
raises `PydanticCustomError(<code>, ...)`; compiler.language.schema_errors maps it back to that code.
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from compiler.language import units


def check_value(pattern_ok: bool, code: str, message: str, **ctx: object) -> None:
    # pydantic fills `{name}` placeholders only (no format specs), so values arrive pre-quoted.
    if not pattern_ok:
        raise PydanticCustomError(code, message, {k: repr(v) for k, v in ctx.items()})


# Each check below runs for every such value of every spec (~35 a spec): the common case, a valid value,
# returns without calling check_value (and building its keyword arguments); the message is built only
# for a value that fails.


def _name(value: str) -> str:
    if not units.is_dns_label(value):
        check_value(False, "MLS223",
               "{value} is not a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters, "
               "starting and ending with a letter or digit)", value=value)
    return value


def check_duration(value: str) -> str:
    if units.duration_ms(value) is None:
        check_value(False, "MLS205", "{value} is not a duration such as 30s, 5m, 1h30m or 7d", value=value)
    return value


def _percent(value: float | str) -> float | str:
    if units.percent(value) is None:
        check_value(False, "MLS105",
               "{value} is not a percentage: write it as `1%` or as a ratio between 0 and 1", value=value)
    return value


def _md5(value: str) -> str:
    if not units.MD5_RE.fullmatch(value):
        check_value(False, "MLS222",
               "{value} is not a DVC md5: 32 lowercase hex digits, with `.dir` for a directory", value=value)
    return value


def _sha256(value: str) -> str:
    if not units.SHA256_RE.fullmatch(value):
        check_value(False, "MLS222", "{value} is not a sha256: 64 lowercase hex digits", value=value)
    return value


def _commit(value: str) -> str:
    if not units.COMMIT_RE.fullmatch(value):
        check_value(False, "MLS222",
               "{value} is not a full git commit: 40 lowercase hex digits (a branch or tag can move)", value=value)
    return value


def _email(value: str) -> str:
    if not units.EMAIL_RE.fullmatch(value):
        check_value(False, "MLS105", "{value} is not an email address", value=value)
    return value


def _quantity(value: str) -> str:
    if not units.QUANTITY_RE.fullmatch(value):
        check_value(False, "MLS105", "{value} is not a Kubernetes quantity such as 500m, 2, 512Mi or 16Gi",
               value=value)
    return value


def _env_name(value: str) -> str:
    if not units.ENV_NAME_RE.fullmatch(value):
        check_value(False, "MLS105", "{value} is not an environment variable name", value=value)
    return value


def _metric(value: str) -> str:
    if not units.METRIC_NAME_RE.fullmatch(value):
        check_value(False, "MLS105",
               "{value} is not a metric name: letters, digits and '_', not starting with a digit", value=value)
    return value


def _web_url(value: str) -> str:
    if not units.is_web_url(value):
        check_value(False, "MLS241", "{value} is not an http(s) URL", value=value)
    return value


Name = Annotated[str, AfterValidator(_name)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
Duration = Annotated[str, AfterValidator(check_duration), Field(json_schema_extra={"examples": ["30s", "5m", "1h30m"]})]
Percent = Annotated[float | str, AfterValidator(_percent)]
Md5 = Annotated[str, AfterValidator(_md5)]
Sha256 = Annotated[str, AfterValidator(_sha256)]
Commit = Annotated[str, AfterValidator(_commit)]
Email = Annotated[str, AfterValidator(_email)]
Quantity = Annotated[str, AfterValidator(_quantity)]
MetricName = Annotated[str, AfterValidator(_metric)]
Traffic = Annotated[float, Field(gt=0, le=100, description="Percent of traffic, (0, 100].")]
Text = Annotated[str, Field(min_length=1, max_length=10_000)]
EnvName = Annotated[str, AfterValidator(_env_name)]


class Strict(BaseModel):
    # NaN and infinities are numbers to YAML (.nan, .inf) but thresholds to no one: NaN compares false
    # with everything, so a NaN gate would pass or fail silently, and no manifest can hold one.
    # defer_build: the validators are built on first use, once, for the whole Spec; built per class at
    # import, they were ~30 ms of every CLI start, lint of one spec included (issue 14, cold start).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


# Shared by the pipeline's steps and the serving section.


class SecretRef(Strict):
    name: Name
    key: Annotated[str, Field(min_length=1, max_length=253)]


class Resources(Strict):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: Annotated[int, Field(ge=0, le=16)] | None = None
    gpuType: Text | None = Field(None, description="Accelerator type, e.g. nvidia.com/gpu.")
