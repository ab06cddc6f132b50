"""Validate built-in Kubernetes kinds with the schemas packaged in `kubernetes-validate`, strict mode.

The library's `validate()` stops at the first error; users fixing rendered output want all of them, so
the validator is built here from the library's own schema files, exactly as `validate()` builds it
(same file naming, same `$ref` registry), and asked for every error.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.validation.common import (
    INSTALL_HINT,
    SCHEMA_VIOLATION,
    VALIDATOR_MISSING,
    api_group,
    check_object_meta,
    schema_errors,
)

# The cluster version rendered manifests are judged against. kubernetes-validate 1.37 packages
# schemas for 1.25 to 1.37; a release without this one is reported, not silently replaced.
KUBERNETES_VERSION = "1.33"


class ValidatorMissing(Exception):
    """kubernetes-validate is not installed or lacks the schemas for KUBERNETES_VERSION."""


def is_builtin_group(api_version: str) -> bool:
    """Only core groups go to kubernetes-validate: it strips the domain from groups
    (`apps.example.com/v1` -> `apps-v1`), so a custom group could match a built-in schema."""
    group = api_group(api_version)
    return group == "" or "." not in group or group.endswith(".k8s.io")


def knows(api_version: str, kind: str, version: str = KUBERNETES_VERSION) -> bool:
    """Whether kubernetes-validate has a schema for this kind. Raises ValidatorMissing."""
    return is_builtin_group(api_version) and _schema_file(api_version, kind, version) is not None


def validate_builtin(doc: Mapping[str, Any], version: str = KUBERNETES_VERSION) -> list[Diagnostic]:
    """All strict-schema and metadata errors of a built-in kind that `knows()` accepted."""
    api_version, kind = str(doc.get("apiVersion")), str(doc.get("kind"))
    filename = _schema_file(api_version, kind, version)
    if filename is None:
        raise ValueError(f"no kubernetes-validate schema for {api_version} {kind}")
    validator = _validator(_schema_dir(version), filename)
    found = schema_errors(validator.iter_errors(dict(doc)), SCHEMA_VIOLATION)
    # The schema already rejects unknown ObjectMeta fields; only the name rules are added.
    return found + check_object_meta(doc, strict_keys=False)


def missing_diagnostic(exc: ValidatorMissing) -> Diagnostic:
    return Diagnostic(VALIDATOR_MISSING, str(exc), hint=INSTALL_HINT)


def _utils() -> Any:
    try:
        import kubernetes_validate.utils as utils
    except ImportError as exc:
        msg = "kubernetes-validate is not installed; built-in kinds cannot be checked"
        raise ValidatorMissing(msg) from exc
    return utils


@lru_cache(maxsize=4)
def _schema_dir(version: str) -> str:
    utils = _utils()
    available = {utils.major_minor(v): v for v in utils.all_versions()}
    if version not in available:
        raise ValidatorMissing(
            f"kubernetes-validate {utils.__version__} has no schemas for Kubernetes {version} "
            f"(it has {min(available)} to {max(available)}); install a newer kubernetes-validate"
        )
    return f"kubernetes-json-schema/v{available[version]}-local-strict"


@lru_cache(maxsize=512)
def _schema_file(api_version: str, kind: str, version: str) -> str | None:
    schema_dir = _schema_dir(version)
    # Same mapping as kubernetes_validate.utils.validate: rbac.authorization.k8s.io/v1 -> rbac-v1.
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    name = f"{schema_dir}/{kind.lower()}-{api}.json"
    exists = importlib.resources.files("kubernetes_validate").joinpath(name).is_file()
    return name if exists else None


@lru_cache(maxsize=64)
def _validator(schema_dir: str, filename: str) -> Any:
    import jsonschema  # type: ignore[import-untyped,unused-ignore]
    from referencing import Registry, Resource

    utils = _utils()
    schema = utils.schema_contents(filename, schema_dir)
    definitions = _definitions(schema_dir)
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = definitions @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=4)
def _definitions(schema_dir: str) -> Any:
    from referencing import Resource

    # 1.4 MB of JSON shared by every kind: parse it once per process.
    return Resource.from_contents(_utils().schema_contents(f"{schema_dir}/_definitions.json", schema_dir))
