"""A fresh spec repository as users set it up: `mlspec init`, the pre-commit hooks run by pre-commit
itself, and the schema modeline read by the real yaml-language-server (npm)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tools import REPO_ROOT, require_tool, run_tool, unavailable

from compiler.language.jsonschema_export import PROJECT_SCHEMA_FILE, SCHEMA_DIR, stale_schemas

HOOKS = REPO_ROOT / ".pre-commit-hooks.yaml"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _mlspec(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stdin=subprocess.DEVNULL)


def _fresh_spec_repository(tmp_path: Path) -> Path:
    repo = tmp_path / "specs-repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "dev")
    created = _mlspec(repo, "init", "credit-limit", "--team", "lending-ml")
    assert created.returncode == 0, created.stderr
    return repo


def test_init_writes_schemas_the_modeline_resolves_inside_the_repository(tmp_path: Path) -> None:
    repo = _fresh_spec_repository(tmp_path)
    spec = repo / "specs" / "credit-limit.yaml"
    first = spec.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../.mlspec/schemas/mlspec-v1.schema.json"
    target = (spec.parent / first.split("=", 1)[1]).resolve()
    assert json.loads(target.read_text())["title"].startswith("mlspec Model")
    assert json.loads((repo / SCHEMA_DIR / PROJECT_SCHEMA_FILE).read_text())["title"].startswith("mlspec project")
    assert stale_schemas(repo) == []
    assert _mlspec(repo, "lint").returncode == 0
    assert _mlspec(repo, "schema", "--check").returncode == 0
    (repo / SCHEMA_DIR / PROJECT_SCHEMA_FILE).write_text("{}\n")
    assert _mlspec(repo, "schema", "--check").returncode == 1
    assert _mlspec(repo, "schema", "--sync").returncode == 0
    assert _mlspec(repo, "schema", "--check").returncode == 0


def test_pre_commit_runs_the_hooks_on_a_spec_repository(tmp_path: Path) -> None:
    pre_commit = require_tool("pre-commit")
    assert run_tool([pre_commit, "validate-manifest", HOOKS]).returncode == 0
    # The hook repository as pre-commit clones it: this checkout's files at one commit.
    hooks_repo = tmp_path / "mlspec"
    listed = _git(REPO_ROOT, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file() and not name.startswith(("golden/", "tests/")):
            (hooks_repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, hooks_repo / name)
    _git(hooks_repo, "init", "-q", "-b", "main")
    _git(hooks_repo, "add", "-A")
    _git(hooks_repo, "-c", "user.email=a@b.c", "-c", "user.name=a", "commit", "-qm", "hooks")
    rev = _git(hooks_repo, "rev-parse", "HEAD").strip()

    repo = _fresh_spec_repository(tmp_path)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks_repo}\n    rev: {rev}\n    hooks:\n      - id: mlspec-lint\n"
        "      - id: mlspec-schemas\n      - id: mlspec-workflows\n")
    _git(repo, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([pre_commit, "run", "--all-files", "--color", "never"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)

    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "mlspec lint" in clean.stdout
    assert re.search(r"mlspec CI workflows current\.+Passed", clean.stdout), clean.stdout
    # A spec change without its workflows: the hook names the stale file and the fix.
    spec = repo / "specs" / "credit-limit.yaml"
    spec.write_text(spec.read_text().replace("traffic: 10,", "traffic: 20,", 1))
    _git(repo, "add", "-A")
    stale = run()
    assert stale.returncode == 1
    assert ".github/workflows/mlspec-credit-limit.yaml: outdated; run `mlspec workflows`" in stale.stdout
    assert _mlspec(repo, "workflows").returncode == 0
    _git(repo, "add", "-A")
    assert run().returncode == 0
    spec = repo / "specs" / "credit-limit.yaml"
    spec.write_text(spec.read_text().replace("framework: sklearn", "framework: sklaern", 1))
    (repo / SCHEMA_DIR / PROJECT_SCHEMA_FILE).write_text("{}\n")
    _git(repo, "add", "-A")
    failed = run()
    assert failed.returncode == 1
    assert "specs/credit-limit.yaml:" in failed.stdout
    assert "MLS104" in failed.stdout
    assert "did you mean 'sklearn'?" in failed.stdout
    assert "mlspec schema --sync" in failed.stdout


# --- yaml-language-server ------------------------------------------------------------------------


def _yaml_language_server() -> list[str]:
    found = os.environ.get("MLSPEC_YAML_LANGUAGE_SERVER") or shutil.which("yaml-language-server")
    local = REPO_ROOT / ".cache" / "node" / "node_modules" / ".bin" / "yaml-language-server"
    if not found and local.is_file():
        found = str(local)
    if not found:
        unavailable("yaml-language-server is not installed (.ci/run installs it with npm into .cache/node)")
    return [found, "--stdio"]


class LspClient:
    """Just enough of the Language Server Protocol (JSON-RPC over stdio with Content-Length framing)."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> int:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        length = 0
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("yaml-language-server exited")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return dict(json.loads(self.process.stdout.read(length)))

    def diagnostics_for(self, uri: str, deadline: float) -> list[dict[str, Any]]:
        """Answer the server's own requests until it publishes non-empty diagnostics for `uri`."""
        while time.monotonic() < deadline:
            message = self.receive()
            if "id" in message and "method" in message:  # a request from the server
                result: Any = None
                if message["method"] == "workspace/configuration":
                    result = [{"validate": True, "schemaStore": {"enable": False}}
                              for _ in message["params"]["items"]]
                self.send({"id": message["id"], "result": result})
            elif message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                if params["uri"] == uri and params["diagnostics"]:
                    return list(params["diagnostics"])
        raise AssertionError("no diagnostics within the deadline")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def test_yaml_language_server_reports_a_mistake_through_the_modeline(tmp_path: Path) -> None:
    command = _yaml_language_server()
    repo = _fresh_spec_repository(tmp_path)
    spec = repo / "specs" / "credit-limit.yaml"
    text = spec.read_text().replace("framework: sklearn", "framework: sklaern", 1)
    mistake_line = next(i for i, line in enumerate(text.splitlines()) if "sklaern" in line)
    uri = spec.as_uri()
    client = LspClient(command, repo)
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": repo.as_uri(), "capabilities": {
            "workspace": {"configuration": True}, "textDocument": {"publishDiagnostics": {}}}})
        while "result" not in client.receive():
            pass
        client.send({"method": "initialized", "params": {}})
        client.send({"method": "workspace/didChangeConfiguration", "params": {"settings": {"yaml": {
            "validate": True, "schemaStore": {"enable": False}}}}})
        client.send({"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
        found = client.diagnostics_for(uri, time.monotonic() + 60)
    finally:
        client.close()
    lines = {d["range"]["start"]["line"] for d in found}
    assert mistake_line in lines, found
    assert any("sklearn" in d["message"] for d in found), found
