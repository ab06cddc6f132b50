"""Walk a rendered tree and send every YAML document to the tool that judges it.

How a document is recognized, first match wins (`classify` is this list in code):

1. KFP pipeline IR: the file's first document has top-level `pipelineInfo` and `root`; a later
   document whose only key is `platforms` is its Kubernetes config. Judged by `kfp_ir`.
2. kustomize config: a file named `kustomization.yaml`, `kustomization.yml` or `Kustomization`, or an
   `apiVersion` in `kustomize.config.k8s.io`. Skipped: it is not an API object.
3. OpenSLO document: `apiVersion` `openslo/...` (the prometheus target's `openslo.yaml`). Skipped: not an
   API object; tests/test_openslo.py judges it.
4. Kubernetes object: has `apiVersion` or `kind` (then both are required). Judged by the CRD from
   `--crds` that defines it, else by kubernetes-validate for built-in groups, else VAL002.
   mlspec's own artifacts (`apiVersion: mlspec/v1`, e.g. CiRepositorySettings) come first and are judged
   by the schema mlspec ships for the kind.
5. GitHub workflow: under `.github/workflows/`, or top-level `jobs` plus `on`. check-jsonschema's
   vendored schema.
6. GitLab CI: the file name ends in `gitlab-ci.yml`/`gitlab-ci.yaml`. check-jsonschema's vendored schema.
7. Prometheus rule file: top-level `groups`. `promtool check rules` (else the PromQL parser).
8. promtool unit test: top-level `rule_files`. `promtool test rules`.
9. Alertmanager config: top-level `route` or `receivers`. `amtool check-config` (team fragments wrapped).
10. Anything else (audit records, empty documents): plain data, not judged (and reported as such).

`judge_file` also says what judged each file (compiler/validation/external.py has the tool judges).

A `PipelineVersion` custom resource is also checked as a pipeline: its `spec.pipelineSpec` (with
`spec.platformSpec`) goes through `kfp_ir`, since its CRD leaves that field unchecked.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from compiler.diagnostics import Diagnostic, Severity, sort_diagnostics
from compiler.diagnostics import Path as DocPath
from compiler.validation import external, kfp_ir, kube
from compiler.validation.common import (
    CRDS_INVALID,
    NOTHING_TO_CHECK,
    UNKNOWN_KIND,
    YAML_INVALID,
    api_group,
    identity,
)
from compiler.validation.crds import CrdIndex, load_crds, validate_custom_resource

SKIP_DIRS = frozenset({".git", ".mlspec"})
KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})

# classify() results
KFP_PIPELINE = "kfp-pipeline"
KFP_PLATFORM = "kfp-platform"
KUSTOMIZE = "kustomize"
OPENSLO = "openslo"
KUBERNETES = "kubernetes"
GITHUB_WORKFLOW = "github-workflow"
GITLAB_CI = "gitlab-ci"
PROMETHEUS_RULES = "prometheus-rules"
PROMTOOL_TEST = "promtool-test"
ALERTMANAGER_CONFIG = "alertmanager-config"
DATA = "data"
MLSPEC_ARTIFACT = "mlspec-artifact"
MLSPEC_API_VERSION = "mlspec/v1"

# What judged a file, by its first document's kind (tool judges name themselves in compiler.validation.external).
JUDGES = {
    KFP_PIPELINE: "kfp SDK (strict protobuf parse, references, load_component_from_text)",
    KUBERNETES: "Kubernetes schemas (CRDs made strict, kubernetes-validate)",
    KUSTOMIZE: "not judged: kustomize config",
    OPENSLO: "not judged: OpenSLO (no published schema; tests/test_openslo.py checks our reading of the spec)",
    DATA: "not judged: plain data",
}


class _NoDuplicateKeys(yaml.constructor.SafeConstructor):
    """Duplicate keys are errors: Kubernetes' decoder rejects them while PyYAML silently keeps the
    last one, which would hide a real bug in rendered output."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _StrictLoader(_NoDuplicateKeys, yaml.CSafeLoader):
    pass


class _StrictPureLoader(_NoDuplicateKeys, yaml.SafeLoader):
    pass


def load_documents(text: str, file: str = "") -> tuple[list[Any], list[Diagnostic]]:
    """All documents of a YAML stream, or a VAL004 diagnostic at the parse error."""
    try:
        return list(yaml.load_all(text, Loader=_StrictLoader)), []
    except yaml.YAMLError:
        pass
    # libyaml rejects some valid YAML the pure parser accepts (GUIDE §3); only its verdict counts.
    try:
        return list(yaml.load_all(text, Loader=_StrictPureLoader)), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return [], [Diagnostic(YAML_INVALID, f"not valid YAML: {problem}", file=file, line=line, col=col)]


def classify(doc: object, rel: str = "", index: int = 0, first: object = None) -> str:
    """What a document is (see the module docstring); `first` is the file's first document."""
    name = rel.replace(os.sep, "/").rsplit("/", 1)[-1]
    if index == 0 and kfp_ir.is_pipeline_ir(doc):
        return KFP_PIPELINE
    if index > 0 and kfp_ir.is_pipeline_ir(first) and kfp_ir.is_platform_spec(doc):
        return KFP_PLATFORM
    if not isinstance(doc, Mapping):
        return DATA
    api_version = doc.get("apiVersion")
    if name in KUSTOMIZATION_FILES or (
        isinstance(api_version, str) and api_group(api_version) == "kustomize.config.k8s.io"
    ):
        return KUSTOMIZE
    if api_version == MLSPEC_API_VERSION:
        return MLSPEC_ARTIFACT
    if isinstance(api_version, str) and api_version.startswith("openslo/"):
        return OPENSLO
    if "apiVersion" in doc or "kind" in doc:
        return KUBERNETES
    # PyYAML reads the workflow key `on` as the boolean True (YAML 1.1).
    in_workflows = "/.github/workflows/" in f"/{rel.replace(os.sep, '/')}"
    if in_workflows or ("jobs" in doc and ("on" in doc or True in doc)):
        return GITHUB_WORKFLOW
    if name.endswith(("gitlab-ci.yml", "gitlab-ci.yaml")):
        return GITLAB_CI
    for key, kind in (
        ("groups", PROMETHEUS_RULES),
        ("rule_files", PROMTOOL_TEST),
        ("route", ALERTMANAGER_CONFIG),
        ("receivers", ALERTMANAGER_CONFIG),
    ):
        if key in doc:
            return kind
    return DATA


def validate_documents(
    docs: Sequence[object], crds: CrdIndex | None, *, file: str = "", text: str | None = None
) -> list[Diagnostic]:
    """Every problem in the documents of one file (`file` is only used to name it and classify it)."""
    out: list[Diagnostic] = []
    first = docs[0] if docs else None
    for i, doc in enumerate(docs):
        kind = classify(doc, file, i, first)
        if kind == KFP_PIPELINE:
            platform_at = next((j for j in range(1, len(docs)) if kfp_ir.is_platform_spec(docs[j])), None)
            platform = docs[platform_at] if platform_at is not None else None
            # The SDK loader is given the file text only when the file is exactly pipeline (+ platform).
            whole = text if len(docs) == (1 if platform_at is None else 2) else None
            for which, diag in kfp_ir.validate_pipeline(doc, platform, text=whole):
                at = i if which == kfp_ir.IR_DOC else (platform_at or 0)
                out.append(_locate(diag, file, at, "pipeline"))
        elif kind == KUBERNETES:
            assert isinstance(doc, Mapping)
            label = identity(doc)
            out += [_locate(d, file, i, label) for d in validate_object(doc, crds)]
        elif kind in (MLSPEC_ARTIFACT, GITHUB_WORKFLOW, GITLAB_CI) and isinstance(doc, Mapping):
            judge = {MLSPEC_ARTIFACT: external.mlspec_artifact, GITHUB_WORKFLOW: external.github_workflow,
                     GITLAB_CI: external.gitlab_ci}[kind]
            out += [_locate(d, file, i, kind) for d in judge(doc)[0]]
    return out


def validate_object(doc: Mapping[str, Any], crds: CrdIndex | None) -> list[Diagnostic]:
    """One Kubernetes object: by its CRD if `crds` defines it, else as a built-in kind."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return [Diagnostic(UNKNOWN_KIND, "a Kubernetes object needs both apiVersion and kind as strings")]
    if crds is not None and crds.knows(api_version, kind):
        out = validate_custom_resource(doc, crds)
        return out + _embedded_pipeline(doc)
    try:
        if kube.knows(api_version, kind):
            return kube.validate_builtin(doc)
    except kube.ValidatorMissing as exc:
        return [kube.missing_diagnostic(exc)]
    where = "the CRD folder" if crds is not None else "any CRD (no CRD folder was given)"
    return [
        Diagnostic(
            UNKNOWN_KIND,
            f"unknown kind: {api_version} {kind} is neither a built-in Kubernetes "
            f"{kube.KUBERNETES_VERSION} kind nor defined by {where}",
            hint="pass the CRD folder with --crds (e.g. `kubectl get crd NAME -o yaml` output)",
        )
    ]


def _embedded_pipeline(doc: Mapping[str, Any]) -> list[Diagnostic]:
    is_version = doc.get("kind") == "PipelineVersion"
    if not is_version or api_group(str(doc.get("apiVersion"))) != "pipelines.kubeflow.org":
        return []
    spec = doc.get("spec")
    if not isinstance(spec, Mapping) or not kfp_ir.is_pipeline_ir(spec.get("pipelineSpec")):
        return []
    prefixes: dict[int, DocPath] = {
        kfp_ir.IR_DOC: ("spec", "pipelineSpec"),
        kfp_ir.PLATFORM_DOC: ("spec", "platformSpec"),
    }
    return [
        replace(d, path=prefixes[which] + d.path)
        for which, d in kfp_ir.validate_pipeline(spec["pipelineSpec"], spec.get("platformSpec"))
    ]


def _locate(diag: Diagnostic, file: str, index: int, label: str) -> Diagnostic:
    return replace(diag, file=diag.file or file, message=f"document {index} ({label}): {diag.message}")


def validate_file(path: Path, crds: CrdIndex | None, *, rel: str | None = None) -> list[Diagnostic]:
    return judge_file(path, crds, rel=rel)[0]


def judge_file(path: Path, crds: CrdIndex | None, *, rel: str | None = None) -> tuple[list[Diagnostic], str]:
    """The file's problems and what judged it."""
    name = rel if rel is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Diagnostic(YAML_INVALID, f"cannot read file: {exc}", file=name)], "unreadable"
    docs, problems = load_documents(text, name)
    if problems:
        return problems, "YAML parser"
    out = validate_documents(docs, crds, file=name, text=text)
    first = docs[0] if docs else None
    kind = classify(first, name, 0, first)
    how = JUDGES.get(kind, kind)
    if isinstance(first, Mapping):
        found: list[Diagnostic] = []
        if kind == PROMETHEUS_RULES:
            found, how = external.rule_file(path, first)
        elif kind == PROMTOOL_TEST:
            found, how = external.promtool_test(path)
        elif kind == ALERTMANAGER_CONFIG:
            found, how = external.alertmanager_config(path, first)
        elif kind == MLSPEC_ARTIFACT:
            how = external.mlspec_artifact(first)[1]
        elif kind == GITHUB_WORKFLOW:
            how = external.github_workflow(first)[1]
        elif kind == GITLAB_CI:
            how = external.gitlab_ci(first)[1]
        out += [_locate(d, name, 0, kind) for d in found]
    return out, how


def yaml_files(root: Path) -> list[Path]:
    """Every .yaml/.yml file below `root` in a stable order, outside .git and .mlspec."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        found += [Path(dirpath, f) for f in sorted(filenames) if f.endswith((".yaml", ".yml"))]
    return found


def validate_tree(root: Path, crds_dir: Path | None) -> list[Diagnostic]:
    """Every problem in a rendered tree, sorted; file names are relative to `root`."""
    return judge_tree(root, crds_dir)[0]


def judge_tree(root: Path, crds_dir: Path | None) -> tuple[list[Diagnostic], dict[str, str]]:
    """Every problem in a rendered tree, sorted, and what judged each file (relative path -> judge)."""
    judged: dict[str, str] = {}
    if not root.is_dir():
        return [Diagnostic(NOTHING_TO_CHECK, f"{root} is not a directory")], judged
    out: list[Diagnostic] = []
    crds: CrdIndex | None = None
    if crds_dir is not None:
        if not crds_dir.is_dir():
            return [Diagnostic(CRDS_INVALID, f"CRD folder {crds_dir} does not exist")], judged
        crds = load_crds(crds_dir)
        out += crds.problems
    files = yaml_files(root)
    if not files:
        # Warn rather than pass silently: an empty render folder usually means a wrong path.
        out.append(
            Diagnostic(NOTHING_TO_CHECK, f"no .yaml/.yml files under {root}", severity=Severity.WARNING)
        )
    for path in files:
        rel = path.relative_to(root).as_posix()
        found, judged[rel] = judge_file(path, crds, rel=rel)
        out += found
    return sort_diagnostics(out), judged
