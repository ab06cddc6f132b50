"""Judge rendered output with the consumers' own validators (`mlspec validate DIR [--crds DIR]`).

Custom resources are checked against CRD schemas made strict, built-in kinds with kubernetes-validate,
Kubeflow pipelines with the kfp SDK's protobufs plus reference checks, rule files and unit tests with
promtool, Alertmanager configs with amtool, workflows and GitLab pipelines with check-jsonschema's
vendored schemas, mlspec's own artifacts with the schemas it ships (see `tree` and `external`).
"""

from __future__ import annotations

from compiler.validation.common import CODES as _COMMON_CODES
from compiler.validation.crds import CrdIndex, load_crds, strict_schema, validate_custom_resource
from compiler.validation.external import CODES as _EXTERNAL_CODES
from compiler.validation.kfp_ir import is_pipeline_ir, validate_pipeline
from compiler.validation.kube import KUBERNETES_VERSION, validate_builtin
from compiler.validation.tree import (
    classify,
    judge_file,
    judge_tree,
    load_documents,
    validate_documents,
    validate_file,
    validate_object,
    validate_tree,
    yaml_files,
)

CODES = {**_COMMON_CODES, **_EXTERNAL_CODES}

__all__ = [
    "CODES",
    "KUBERNETES_VERSION",
    "CrdIndex",
    "classify",
    "is_pipeline_ir",
    "judge_file",
    "judge_tree",
    "load_crds",
    "load_documents",
    "strict_schema",
    "validate_builtin",
    "validate_custom_resource",
    "validate_documents",
    "validate_file",
    "validate_object",
    "validate_pipeline",
    "validate_tree",
    "yaml_files",
]
