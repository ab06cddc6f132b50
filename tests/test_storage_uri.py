"""hf:// model URIs must pin a commit in KServe's own syntax (kserve_storage `_download_hf`, v0.20.0:
`hf://<owner>/<model>[:<revision>]`): unpinned, branch-pinned and `@`-pinned forms are lint errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.pipeline import RunResult, run
from golden import SPECS, registry_of

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ASSISTANT = SPECS / "support-assistant.yaml"


def _lint(tmp_path: Path, uri: str, previous: str | None = None) -> RunResult:
    spec: dict[str, Any] = yaml.safe_load(ASSISTANT.read_text())
    spec["model"]["uri"] = uri
    if previous is not None:
        spec["model"]["previous"]["uri"] = previous
    (tmp_path / "specs").mkdir(parents=True)
    (tmp_path / "specs" / "model.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return run([tmp_path / "specs"], root=tmp_path, render=False, registry=registry_of(), jobs=1)


@pytest.mark.parametrize(("uri", "fragment", "hint"), [
    ("hf://acme/assistant", "is not pinned", "hf://acme/assistant:<40-hex commit>"),
    ("hf://acme/assistant:main", "branch or tag", "hf://acme/assistant:<40-hex commit>"),
    (f"hf://acme/assistant@{COMMIT}", "repository named acme/assistant@", f"hf://acme/assistant:{COMMIT}"),
    ("hf://acme/assistant:v1.2", "branch or tag", "hf://acme/assistant:<40-hex commit>"),
    ("hf://acme/models/assistant", "not KServe's Hugging Face form", "hf://<owner>/<model>:<40-hex commit>"),
])
def test_unpinned_hf_uris_are_errors(tmp_path: Path, uri: str, fragment: str, hint: str) -> None:
    result = _lint(tmp_path, uri)
    found = [d for d in result.diagnostics if d.code == "MLS260"]
    assert len(found) == 1, [d.to_text() for d in result.diagnostics]
    diag = found[0]
    assert diag.is_error
    assert diag.path == ("model", "uri")
    assert fragment in diag.message
    assert diag.hint is not None
    assert hint in diag.hint
    assert diag.line is not None  # positioned in the spec like every rule finding


def test_commit_pinned_hf_uri_lints_clean(tmp_path: Path) -> None:
    result = _lint(tmp_path, f"hf://acme/assistant:{COMMIT}", previous="hf://acme/assistant:main")
    assert [(d.code, d.path) for d in result.diagnostics if d.code == "MLS260"] == [
        ("MLS260", ("model", "previous", "uri"))]
    result = _lint(tmp_path / "b", f"hf://acme/assistant:{COMMIT}")
    assert result.ok, [d.to_text() for d in result.diagnostics]
