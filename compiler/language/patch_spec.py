"""The `patches:` section of a spec: declared changes to rendered objects, applied after rendering.

The escape hatch every configuration compiler needs (Score's `--patch-templates`, kustomize's
`patches:`): a user adds what mlspec does not model (a toleration, a sidecar's env var) without
forking the compiler. A patch names its target by identity (kind, name, optionally the environment
and rollout stage it was rendered for) and is either a strategic-merge patch (`merge:`, kustomize's
semantics) or an RFC 6902 JSON patch (`json:`). Applying them is compiler.render.patches.
"""

# Annotations are evaluated where written, not postponed: pydantic would evaluate each string at class
# creation, a third of building these models on every start (tests/test_cold_start.py).

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A Kubernetes kind (PascalCase) and an object name (DNS subdomain); both are compared, never executed.
KindName = Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]{0,62}$")]
ObjectName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
Label = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class _Strict(BaseModel):
    # defer_build, like value_types.Strict: built inside the Spec's and the Project's validators on first
    # use, not once more per class at import (four validators of every CLI start, lint of one spec included).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class PatchTarget(_Strict):
    kind: KindName = Field(description="Kind of the rendered object, e.g. InferenceService.")
    name: ObjectName | None = Field(
        None, description="metadata.name of the rendered object (default: the model's name, which its "
                          "InferenceService carries).")
    environment: Label | None = Field(
        None, description="Only the object rendered for this environment (default: every environment).")
    stage: Label | None = Field(
        None, description="Only the object rendered for this rollout stage, e.g. full (default: every stage).")


class JsonPatchOp(_Strict):
    """One RFC 6902 operation. `value` is required for add, replace and test; `from` for move and copy."""

    op: Literal["add", "remove", "replace", "move", "copy", "test"]
    path: Annotated[str, Field(max_length=1000)] = Field(description="JSON pointer (RFC 6901), e.g. /spec/x.")
    value: Any = None
    from_: Annotated[str, Field(max_length=1000)] | None = Field(None, alias="from")


class Patch(_Strict):
    target: PatchTarget
    merge: dict[str, Any] | None = Field(
        None, description="Strategic-merge patch (kustomize semantics): maps merge, `null` deletes a key, lists "
                          "of named items merge by name, `$patch: delete` removes a named item.")
    json_: list[JsonPatchOp] | None = Field(None, alias="json", min_length=1,
                                            description="RFC 6902 JSON patch operations, applied in order.")
