"""The gitops target, judged by the real things: kustomize builds every kustomization, the upstream
Argo CD and Flux CRDs (made strict) accept every engine object."""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from tools import kustomize_build, require_crds

from compiler.pipeline import RunResult, run
from compiler.validation import load_crds
from compiler.validation.crds import validate_custom_resource
from compiler.validation.kube import validate_builtin
from golden import SPECS
from targets.gitops.kustomize import relative

TEAMS = """
teams:
  risk-ml: {namespaces: [risk-staging, risk-prod, risk-sandbox]}
  growth-ml: {namespaces: [growth-staging, growth-prod]}
  retail-vision: {namespaces: [retail-edge-pilot, retail-edge]}
  support-ai: {namespaces: [support-ai-staging, support-ai-prod]}
  payments-ml: {namespaces: [payments-staging, payments-prod]}
"""


def project(tmp: Path, config: str = "") -> Path:
    root = tmp / "project"
    shutil.copytree(SPECS, root / "specs")
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n" + config)
    return root


def rendered(root: Path, out: Path) -> tuple[RunResult, Path]:
    result = run(None, root=root, render=True)
    assert result.ok, [d.to_text() for d in result.diagnostics if d.is_error]
    for rel, data in result.files().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return result, out


def docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def ident(obj: Any) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


@pytest.fixture(scope="module")
def argo_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    tmp = tmp_path_factory.mktemp("argo")
    root = project(tmp, TEAMS + "targets:\n  gitops: {repoURL: 'https://git.example.com/acme/deploy.git'}\n")
    return rendered(root, tmp / "out")


@pytest.fixture(scope="module")
def flux_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    tmp = tmp_path_factory.mktemp("flux")
    root = project(tmp, "targets:\n  gitops: {engine: flux, repoURL: 'ssh://git@git.example.com/acme/deploy.git',"
                        " revision: release,"
                        " secretName: deploy-key}\n")
    return rendered(root, tmp / "out")


def manifest_objects(out: Path) -> dict[tuple[str, str, str, str], str]:
    """Every Kubernetes object in a rendered file that is not a kustomization, by identity -> file."""
    found = {}
    for path in sorted(out.rglob("*.yaml")):
        rel = path.relative_to(out).as_posix()
        for doc in docs(path):
            if not (isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= doc.keys()):
                continue  # rule files, promtool tests, pipeline IR, workflows
            # mlspec/ and openslo/ documents (the OpenSLO export) are data, never applied to a cluster
            if doc["kind"] != "Kustomization" and not str(doc["apiVersion"]).startswith(("mlspec/", "openslo/")):
                found[ident(doc)] = rel
    return found


@pytest.mark.parametrize("tree", ["argo_tree", "flux_tree"])
def test_every_kustomization_builds_with_real_kustomize(tree: str, request: pytest.FixtureRequest) -> None:
    _, out = request.getfixturevalue(tree)
    folders = sorted(p.parent for p in out.rglob("kustomization.yaml"))
    assert len(folders) > 40
    for folder in folders:
        built = kustomize_build(folder)
        assert built, f"{folder.relative_to(out)} builds to nothing"


def test_root_kustomization_reaches_every_manifest_folder(argo_tree: tuple[RunResult, Path]) -> None:
    _, out = argo_tree
    applied = {ident(o) for o in kustomize_build(out)} | {ident(o) for o in kustomize_build(out / "gitops/argocd")}
    everything = manifest_objects(out)
    # Rollout stages other than the live one are alternatives the rollout engine selects, never applied.
    inactive = {k: f for k, f in everything.items() if "/stages/" in f}
    active = {k: f for k, f in everything.items() if k not in inactive}
    missing = sorted(f"{f}: {k}" for k, f in active.items() if k not in applied)
    assert not missing, missing
    # Raw rule files and promtool tests are not Kubernetes objects and are never applied.
    kinds = {k[1] for k in applied}
    assert {"InferenceService", "PrometheusRule", "ServiceAccount", "CronJob", "ConfigMap", "Application",
            "AppProject"} <= kinds
    for obj in kustomize_build(out):
        assert {"groups", "rule_files", "tests"}.isdisjoint(obj)


def test_prometheus_folders_list_only_the_prometheusrule(argo_tree: tuple[RunResult, Path]) -> None:
    _, out = argo_tree
    kust = docs(out / "models/fraud-detector/prometheus/production/kustomization.yaml")[0]
    assert kust["resources"] == ["prometheusrule.yaml"]
    built = kustomize_build(out / "models/fraud-detector/prometheus/production")
    assert [o["kind"] for o in built] == ["PrometheusRule"]


def test_argo_objects_pass_the_upstream_crds(argo_tree: tuple[RunResult, Path]) -> None:
    index = load_crds(require_crds() / "argocd")
    _, out = argo_tree
    objects = kustomize_build(out / "gitops/argocd")
    assert {o["kind"] for o in objects} == {"Application", "AppProject"}
    for obj in objects:
        assert index.knows(obj["apiVersion"], obj["kind"])
        problems = validate_custom_resource(obj, index)
        assert not problems, (ident(obj), [p.to_text() for p in problems])


def test_flux_objects_pass_the_upstream_crds(flux_tree: tuple[RunResult, Path]) -> None:
    index = load_crds(require_crds() / "flux")
    _, out = flux_tree
    assert not (out / "gitops/argocd").exists()
    objects = kustomize_build(out / "gitops/flux")
    assert {o["kind"] for o in objects} == {"GitRepository", "Kustomization", "ServiceAccount", "Role", "RoleBinding"}
    for obj in objects:
        if obj["apiVersion"] in ("v1", "rbac.authorization.k8s.io/v1"):
            problems = validate_builtin(obj)  # kubernetes-validate, strict
        else:
            assert index.knows(obj["apiVersion"], obj["kind"])
            problems = validate_custom_resource(obj, index)
        assert not problems, (ident(obj), [p.to_text() for p in problems])
    repo = next(o for o in objects if o["kind"] == "GitRepository")
    assert repo["spec"]["ref"] == {"branch": "release"}
    assert repo["spec"]["secretRef"] == {"name": "deploy-key"}
    paths = {o["metadata"]["name"]: o["spec"]["path"] for o in objects if o["kind"] == "Kustomization"}
    assert paths["fraud-detector-production"] == "./models/fraud-detector/gitops/production"
    assert paths["mlspec-root"] == "./gitops/flux"
    for name, path in paths.items():  # each Flux Kustomization builds with kustomize, as kustomize-controller does
        assert kustomize_build(out / path.removeprefix("./")), name


def test_app_projects_enforce_the_team_policy(argo_tree: tuple[RunResult, Path]) -> None:
    _, out = argo_tree
    risk = docs(out / "gitops/argocd/projects/risk-ml.yaml")[0]
    assert [d["namespace"] for d in risk["spec"]["destinations"]] == ["risk-prod", "risk-sandbox", "risk-staging"]
    assert risk["spec"]["clusterResourceWhitelist"] == []
    assert {"group": "serving.kserve.io", "kind": "InferenceService"} in risk["spec"]["namespaceResourceWhitelist"]
    for app_file in sorted((out / "gitops/argocd/applications").glob("*.yaml")):
        app = docs(app_file)[0]
        proj = docs(out / f"gitops/argocd/projects/{app['spec']['project']}.yaml")[0]
        allowed = {d["namespace"] for d in proj["spec"]["destinations"]}
        kinds = {(k["group"], k["kind"]) for k in proj["spec"]["namespaceResourceWhitelist"]}
        for obj in kustomize_build(out / app["spec"]["source"]["path"]):
            assert obj["metadata"]["namespace"] in allowed, (app_file.name, ident(obj))
            assert (obj["apiVersion"].rpartition("/")[0], obj["kind"]) in kinds, (app_file.name, ident(obj))


def test_generate_paths_scope_each_app_to_its_folders(argo_tree: tuple[RunResult, Path]) -> None:
    _, out = argo_tree
    app = docs(out / "gitops/argocd/applications/fraud-detector-production.yaml")[0]
    paths = app["metadata"]["annotations"]["argocd.argoproj.io/manifest-generate-paths"].split(";")
    assert paths == ["/models/fraud-detector/gitops/production", "/models/fraud-detector/kserve/production",
                     "/models/fraud-detector/prometheus/production"]
    # Every file the app applies lies under one of its paths, so no change it needs goes unnoticed.
    resources = docs(out / "models/fraud-detector/gitops/production/kustomization.yaml")[0]["resources"]
    for base in resources:
        folder = (out / "models/fraud-detector/gitops/production" / base).resolve()
        assert "/" + folder.relative_to(out.resolve()).as_posix() in paths


def test_sync_waves_put_identity_and_rules_before_the_inference_service(argo_tree: tuple[RunResult, Path]) -> None:
    _, out = argo_tree
    built = kustomize_build(out / "models/fraud-detector/gitops/production")
    waves = {o["kind"]: int((o["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0"))
             for o in built}
    assert waves["ServiceAccount"] < waves["InferenceService"]
    assert waves["PrometheusRule"] < waves["InferenceService"]
    assert waves["VirtualService"] > waves["InferenceService"]


def test_flux_apps_carry_no_argo_annotations(flux_tree: tuple[RunResult, Path]) -> None:
    _, out = flux_tree
    for obj in kustomize_build(out):
        assert "argocd.argoproj.io/sync-wave" not in (obj["metadata"].get("annotations") or {})


def test_engine_none_writes_only_kustomizations(tmp_path: Path) -> None:
    result, out = rendered(project(tmp_path, "targets:\n  gitops: {engine: none}\n"), tmp_path / "out")
    assert not (out / "gitops").exists()
    assert (out / "kustomization.yaml").is_file()
    assert not [d for d in result.diagnostics if d.code.startswith("OPS")]


def test_missing_repo_url_is_a_warning_with_a_placeholder(tmp_path: Path) -> None:
    result, out = rendered(project(tmp_path), tmp_path / "out")
    found = [d for d in result.diagnostics if d.code == "OPS001"]
    assert len(found) == 1
    assert not found[0].is_error
    app = docs(out / "gitops/argocd/applications/fraud-detector-staging.yaml")[0]
    assert app["spec"]["source"]["repoURL"].endswith(".invalid/deployment.git")


def test_bad_settings_are_diagnostics(tmp_path: Path) -> None:
    root = project(tmp_path, "targets:\n  gitops: {engine: fluxcd, repoURL: 'https://x/$(id)', interval: soon}\n")
    result = run(None, root=root, render=True)
    messages = [d.to_text() for d in result.diagnostics if d.is_error]
    assert len(messages) == 3, messages
    assert all("mlspec.yaml:" in m for m in messages), messages


def test_golden(update_golden: bool) -> None:
    """The gitops files for the example specs (no mlspec.yaml: default engine, placeholder URL)."""
    from golden import GOLDEN, check_tree

    result = run(None, root=SPECS.parent, render=True)
    owned = {p: data for p, data in result.project_files.items() if result.project_file_targets[p] == "gitops"}
    assert owned
    check_tree(owned, GOLDEN / "gitops", update_golden)


def test_flux_applies_each_app_as_its_team_and_the_team_may_do_exactly_that(flux_tree: tuple[RunResult, Path]) -> None:
    """Flux's form of the AppProject: kustomize-controller impersonates mlspec-<team>, whose Roles cover
    every object the team's apps apply and nothing outside the team's namespaces."""
    _, out = flux_tree
    objects = kustomize_build(out / "gitops/flux")
    allowed: dict[str, set[tuple[str, str, str]]] = {}  # account -> (namespace, group, resource)
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objects if o["kind"] == "Role"}
    for binding in (o for o in objects if o["kind"] == "RoleBinding"):
        role = roles[(binding["metadata"]["namespace"], binding["roleRef"]["name"])]
        for subject in binding["subjects"]:
            assert subject["namespace"] == "flux-system"
            allowed.setdefault(subject["name"], set()).update(
                (binding["metadata"]["namespace"], g, r) for rule in role["rules"] for g in rule["apiGroups"]
                for r in rule["resources"])
    kustomizations = [o for o in objects if o["kind"] == "Kustomization" and o["metadata"]["name"] != "mlspec-root"]
    assert len(kustomizations) == 14
    for ks in kustomizations:
        account = ks["spec"]["serviceAccountName"]
        team = ks["metadata"]["labels"]["mlspec.dev/team"]
        assert account == (f"mlspec-{team}" if "mlspec.dev/environment" in ks["metadata"]["labels"]
                           else "mlspec-platform")
        for obj in kustomize_build(out / ks["spec"]["path"].removeprefix("./")):
            group = obj["apiVersion"].rpartition("/")[0]
            resource = obj["kind"].lower() + "s"
            assert (obj["metadata"]["namespace"], group, resource) in allowed[account], (ks["metadata"]["name"],
                                                                                         ident(obj))
    risk = {ns for ns, _, _ in allowed["mlspec-risk-ml"]}
    assert risk == {"risk-staging", "risk-prod"}


def test_an_environment_named_like_a_target_folder_is_a_diagnostic_not_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "specs").mkdir(parents=True)
    text = (SPECS / "fraud-detector.yaml").read_text()
    assert "    staging: {namespace: risk-staging" in text
    (root / "specs" / "fraud-detector.yaml").write_text(text.replace("    staging: {namespace: risk-staging",
                                                                     "    kubeflow: {namespace: risk-staging"))
    result = run(None, root=root, render=True)
    codes = [d.code for d in result.diagnostics if d.is_error]
    assert codes == ["OPS002"], [d.to_text() for d in result.diagnostics if d.is_error]



_SEGMENT = st.sampled_from(["models", "a", "b", "kserve", "..", ".", "x-1"])


@given(path=st.lists(_SEGMENT, min_size=1, max_size=5).map("/".join),
       start=st.lists(_SEGMENT, min_size=1, max_size=5).map("/".join))
def test_relative_paths_are_posixpath_relpath(path: str, start: str) -> None:
    """The gitops target's own relpath (faster, for the tree's normalized paths) answers like posixpath's."""
    assert relative(path, start) == posixpath.relpath(path, start)
