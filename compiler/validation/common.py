"""Pieces shared by the validators: diagnostic codes, jsonschema errors as diagnostics, ObjectMeta rules.

Validators report problems relative to one document (file "" and a path inside the document); the tree
walker adds the file name and the document's index and identity afterwards, so each validator can also be
used on documents that never were files (the renderer's in-memory output, tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from compiler.diagnostics import Diagnostic, Path

# The VAL range belongs to `mlspec validate`; one code per kind of judge so users can filter.
SCHEMA_VIOLATION = "VAL001"  # a CRD schema (made strict) or kubernetes-validate --strict rejects it
UNKNOWN_KIND = "VAL002"  # no schema knows this apiVersion/kind, or apiVersion/kind are missing
KFP_INVALID = "VAL003"  # the Kubeflow Pipelines IR does not parse or its references do not resolve
YAML_INVALID = "VAL004"  # the file is not YAML (or has duplicate keys, which Kubernetes rejects)
METADATA_INVALID = "VAL005"  # metadata.name missing or not a valid Kubernetes name, bad labels
VALIDATOR_MISSING = "VAL006"  # an optional validator package is not installed
CRDS_INVALID = "VAL007"  # the CRD folder is missing or a CRD in it cannot be used
NOTHING_TO_CHECK = "VAL008"  # the folder to validate does not exist (error) or holds no YAML (warning)

# One line per code, for the project's code catalogue and `docs/codes.md`.
CODES: dict[str, str] = {
    SCHEMA_VIOLATION: "A rendered object violates its CRD schema (made strict) or the Kubernetes schema.",
    UNKNOWN_KIND: "No CRD or built-in Kubernetes schema knows the object's apiVersion and kind.",
    KFP_INVALID: "The Kubeflow Pipelines IR does not parse strictly or its references do not resolve.",
    YAML_INVALID: "A rendered file is not valid YAML, or a mapping has a duplicate key.",
    METADATA_INVALID: "metadata.name is missing or invalid, or labels/annotations are malformed.",
    VALIDATOR_MISSING: "A validator is not installed: pip install 'mlspec[validate]'.",
    CRDS_INVALID: "The CRD folder is missing, or a CRD in it cannot be loaded or evaluated.",
    NOTHING_TO_CHECK: "The folder to validate does not exist or contains no YAML files.",
}

INSTALL_HINT = "pip install 'mlspec[validate]'"

# Kubernetes' own name rules (k8s.io/apimachinery/pkg/util/validation).
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
DNS1123_LABEL = re.compile(_DNS1123_LABEL)
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

# Kinds whose names are stricter than a DNS-1123 subdomain: (regex, max length). The API server or an
# admission webhook rejects the others, so catching them here saves a failed sync in Argo CD.
_NAME_RULES: dict[tuple[str, str], tuple[re.Pattern[str], int]] = {
    ("", "Service"): (DNS1035_LABEL, 63),
    ("", "Namespace"): (DNS1123_LABEL, 63),
    ("batch", "CronJob"): (DNS1123_SUBDOMAIN, 52),  # the controller appends an 11-character suffix
    ("serving.kserve.io", "InferenceService"): (DNS1035_LABEL, 63),  # KServe's webhook rule
}

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)


def api_group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def identity(doc: Mapping[str, Any]) -> str:
    """`Kind/name` for messages; tolerant of the broken documents it is used to describe."""
    kind = doc.get("kind") if isinstance(doc.get("kind"), str) else "?"
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return f"{kind}/{name if isinstance(name, str) else '?'}"


def schema_errors(errors: Iterable[Any], code: str, prefix: Path = ()) -> list[Diagnostic]:
    """jsonschema errors -> diagnostics at each error's absolute path.

    An `additionalProperties: false` failure is reported once per unexpected key, at that key, because
    that is where the typo is (jsonschema itself points at the parent object).
    """
    out: list[Diagnostic] = []
    for err in errors:
        path: Path = prefix + tuple(err.absolute_path)
        extra = _unexpected_keys(err.instance, err.schema) if err.validator == "additionalProperties" else []
        if extra:
            out += [Diagnostic(code, f"unknown field {key!r}", path=(*path, str(key))) for key in extra]
            continue
        out.append(Diagnostic(code, _short(err.message), path=path))
    return out


def _unexpected_keys(instance: Any, schema: Any) -> list[Any]:
    if not isinstance(instance, Mapping) or not isinstance(schema, Mapping):
        return []
    props = schema.get("properties") or {}
    patterns = list(schema.get("patternProperties") or {})

    def allowed(key: Any) -> bool:
        try:
            return key in props or any(re.search(p, str(key)) for p in patterns)
        except re.error:  # a pattern only the schema's own (Go) dialect understands: do not guess
            return True

    return sorted((k for k in instance if not allowed(k)), key=str)


def _short(message: str) -> str:
    # jsonschema repeats whole (possibly huge) instances in messages; keep diagnostics one screen wide.
    return message if len(message) <= 300 else message[:297] + "..."


def check_object_meta(doc: Mapping[str, Any], *, strict_keys: bool) -> list[Diagnostic]:
    """Name, namespace, labels and annotations as the API server would check them.

    `strict_keys` also rejects unknown ObjectMeta fields; off for core kinds, whose schema already does.
    """
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping):
        return [Diagnostic(METADATA_INVALID, "metadata must be a mapping with a name", path=("metadata",))]
    out: list[Diagnostic] = []
    if strict_keys:
        out += [
            Diagnostic(METADATA_INVALID, f"unknown field {key!r}", path=("metadata", str(key)))
            for key in sorted(meta, key=str)
            if key not in OBJECT_META_FIELDS
        ]
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        out.append(Diagnostic(METADATA_INVALID, "metadata.name is required", path=("metadata",)))
    else:
        kind = doc.get("kind")
        api_version = doc.get("apiVersion")
        group = api_group(api_version) if isinstance(api_version, str) else ""
        pattern, limit = _NAME_RULES.get((group, str(kind)), (DNS1123_SUBDOMAIN, 253))
        if not pattern.fullmatch(name) or len(name) > limit:
            out.append(
                Diagnostic(
                    METADATA_INVALID,
                    f"name {name!r} is not valid for {kind}: want /{pattern.pattern}/, at most {limit} chars",
                    path=("metadata", "name"),
                )
            )
    namespace = meta.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or not DNS1123_LABEL.fullmatch(namespace) or len(namespace) > 63
    ):
        out.append(
            Diagnostic(
                METADATA_INVALID,
                f"namespace {namespace!r} is not a DNS-1123 label",
                path=("metadata", "namespace"),
            )
        )
    out += _check_string_map(meta, "labels", value_rule=True)
    out += _check_string_map(meta, "annotations", value_rule=False)
    return out


def _check_string_map(meta: Mapping[str, Any], field: str, *, value_rule: bool) -> list[Diagnostic]:
    values = meta.get(field)
    if values is None:
        return []
    if not isinstance(values, Mapping):
        return [Diagnostic(METADATA_INVALID, f"{field} must be a mapping", path=("metadata", field))]
    out: list[Diagnostic] = []
    for key in sorted(values, key=str):
        path: Path = ("metadata", field, str(key))
        if not isinstance(key, str) or not _valid_qualified_key(key):
            out.append(Diagnostic(METADATA_INVALID, f"{key!r} is not a valid {field[:-1]} key", path=path))
        value = values[key]
        if not isinstance(value, str):
            # YAML 1.1 turns unquoted yes/no/on/off and numbers into non-strings; Kubernetes rejects them.
            out.append(
                Diagnostic(
                    METADATA_INVALID,
                    f"value must be a string, got {type(value).__name__} {value!r} (quote it)",
                    path=path,
                )
            )
        elif value_rule and value and (len(value) > 63 or not _QUALIFIED_NAME.fullmatch(value)):
            out.append(
                Diagnostic(
                    METADATA_INVALID,
                    f"label value {value!r} is not valid (at most 63 chars of "
                    "[A-Za-z0-9-_.], alphanumeric at both ends)",
                    path=path,
                )
            )
    return out


def _valid_qualified_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return bool(name) and len(name) <= 63 and bool(_QUALIFIED_NAME.fullmatch(name))
