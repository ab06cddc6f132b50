"""Judge rendered output with the consumers' own validators (`mlspec validate DIR [--crds DIR]`).

Custom resources are checked against CRD schemas made strict, built-in kinds with kubernetes-validate,
Kubeflow pipelines with the kfp SDK's protobufs plus reference checks. Rule files, workflows and CI
files are recognized and left to promtool, amtool, actionlint and check-jsonschema (see `tree`).
"""

from __future__ import annotations

from compiler.validation.common import CODES
from compiler.validation.crds import CrdIndex, load_crds, strict_schema, validate_custom_resource
from compiler.validation.kfp_ir import is_pipeline_ir, validate_pipeline
from compiler.validation.kube import KUBERNETES_VERSION, validate_builtin
from compiler.validation.tree import (
    classify,
    load_documents,
    validate_documents,
    validate_file,
    validate_object,
    validate_tree,
    yaml_files,
)

__all__ = [
    "CODES",
    "KUBERNETES_VERSION",
    "CrdIndex",
    "classify",
    "is_pipeline_ir",
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
