"""The Argo CD Config Management Plugin, run the way the sidecar runs it.

argocd-cmp-server runs `generate` in the Application's source directory (a read-only checkout it
unpacked), as a non-root user (the sidecar runs as uid 999; here `nobody` through setpriv), with the
build environment (ARGOCD_APP_*), the parameters as ARGOCD_APP_PARAMETERS JSON and PARAM_* variables, and
the sidecar's own environment (PATH to mlspec). Its stdout must be exactly `render --out -` for the app.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tools import unavailable

from golden import REPO, SPECS

PLUGIN = REPO / "argocd-cmp" / "plugin.yaml"
NOBODY = 65534
PROJECT = "apiVersion: mlspec/v1\nkind: Project\ntargets:\n  gitops: {repoURL: 'https://git.example.com/deploy.git'}\n"


@pytest.fixture(scope="module")
def checkout() -> Iterator[Path]:
    """A read-only checkout of the spec repository that `nobody` can read but not write."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        unavailable("running generate as another user needs root and setpriv (util-linux)")
    base = Path(tempfile.mkdtemp(prefix="mlspec-cmp-"))
    root = base / "repo"
    shutil.copytree(SPECS, root / "specs")
    (root / "mlspec.yaml").write_text(PROJECT)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    base.chmod(0o755)
    yield root
    for path in [root, *root.rglob("*")]:
        path.chmod(stat.S_IRWXU)
    shutil.rmtree(base)


def plugin() -> dict[str, object]:
    doc = yaml.safe_load(PLUGIN.read_text())
    assert doc["apiVersion"] == "argoproj.io/v1alpha1"
    assert doc["kind"] == "ConfigManagementPlugin"
    return doc  # type: ignore[no-any-return]


def sidecar_env(app: str, parameters: list[dict[str, object]]) -> dict[str, str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/nonexistent",
        "ARGOCD_APP_NAME": app,
        "ARGOCD_APP_NAMESPACE": "argocd",
        "ARGOCD_APP_REVISION": "0123456789abcdef0123456789abcdef01234567",
        "ARGOCD_APP_REVISION_SHORT": "0123456",
        "ARGOCD_APP_SOURCE_PATH": ".",
        "ARGOCD_APP_SOURCE_REPO_URL": "https://git.example.com/specs.git",
        "ARGOCD_APP_SOURCE_TARGET_REVISION": "main",
        "KUBE_VERSION": "1.33.0",
        "KUBE_API_VERSIONS": "v1,apps/v1,batch/v1,serving.kserve.io/v1beta1,argoproj.io/v1alpha1",
        "ARGOCD_APP_PARAMETERS": json.dumps(parameters),
    }
    for param in parameters:  # argocd-cmp-server's naming: PARAM_<NAME upper, '-' and '.' as '_'>
        if "string" in param:
            env["PARAM_" + str(param["name"]).upper().replace("-", "_").replace(".", "_")] = str(param["string"])
    return env


def as_nobody() -> list[str]:
    """setpriv to nobody. Where the interpreter lives under a private home (pyenv in /root), nobody also
    gets CAP_DAC_READ_SEARCH, which lets it read and traverse but still not write anything."""
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    mlspec = Path(sys.executable).parent / "mlspec"
    probe = subprocess.run([*drop, "sh", "-c", f"exec '{mlspec}' --version"], capture_output=True, check=False,
                           timeout=60)
    if probe.returncode != 0:
        drop += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    return drop


def generate(root: Path, app: str, parameters: list[dict[str, object]]) -> subprocess.CompletedProcess[str]:
    spec = plugin()["spec"]
    assert isinstance(spec, dict)
    command = [*spec["generate"]["command"], *spec["generate"].get("args", [])]
    return subprocess.run([*as_nobody(), *command],
                          cwd=root, env=sidecar_env(app, parameters), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def render(root: Path, app: str) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / "mlspec"), "render", "--out", "-", "--app", app],
                          cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_discover_matches_a_spec_repository(checkout: Path) -> None:
    pattern = plugin()["spec"]["discover"]["fileName"]  # type: ignore[index]
    names = [f"./{p.name}" for p in checkout.iterdir()]
    assert any(fnmatch.fnmatchcase(n, pattern) for n in names)


def test_generate_as_the_sidecar_equals_render(checkout: Path) -> None:
    done = generate(checkout, "fraud-detector-production", [])
    assert done.returncode == 0, done.stderr
    assert done.stdout == render(checkout, "fraud-detector-production")
    kinds = [d["kind"] for d in yaml.safe_load_all(done.stdout) if d]
    assert kinds == ["ServiceAccount", "InferenceService", "InferenceService", "VirtualService", "PrometheusRule"]
    assert not (checkout / "-").exists()


def test_the_checkout_is_really_read_only_for_the_plugin_user(checkout: Path) -> None:
    done = subprocess.run([*as_nobody(), "sh", "-c", "touch specs/x || touch x || mkdir ./-"], cwd=checkout,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode != 0
    assert "Permission denied" in done.stderr


def test_the_app_parameter_overrides_the_application_name(checkout: Path) -> None:
    done = generate(checkout, "some-argocd-app", [{"name": "app", "string": "txn-anomaly-staging"}])
    assert done.returncode == 0, done.stderr
    assert done.stdout == render(checkout, "txn-anomaly-staging")


def test_a_hostile_parameter_fails_without_running_anything(checkout: Path) -> None:
    done = generate(checkout, "x", [{"name": "app", "string": '$(touch /tmp/pwned) "; id'}])
    assert done.returncode == 1
    assert done.stdout == ""
    assert "MLS291" in done.stderr
    assert not Path("/tmp/pwned").exists()
