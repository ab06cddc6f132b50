"""compiler.render.memo.HashedFiles: a spec's rendered files hash each file once, for the file facts, the
gitops share and the fresh tree's writer, and never answer with the digest of bytes since replaced."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import pytest

from compiler.pipeline import run
from compiler.render import memo
from golden import SPECS


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    hashed: list[bytes] = []
    real = hashlib.sha256

    def sha256(data: bytes = b"", **kwargs: Any) -> Any:
        hashed.append(bytes(data))
        return real(data, **kwargs)

    monkeypatch.setattr(memo.hashlib, "sha256", sha256)
    return hashed


def test_a_file_is_hashed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    files = memo.HashedFiles()
    files["a.yaml"] = b"a: 1\n"
    expected = hashlib.sha256(b"a: 1\n").hexdigest()
    hashed = _counting(monkeypatch)
    digest = memo.file_digest(files, "a.yaml")
    assert digest == expected
    assert memo.file_digest(files, "a.yaml") == digest
    assert memo.file_digest(memo.Within(files, "a"), "a.yaml") == digest
    assert hashed == [b"a: 1\n"]


def test_a_replaced_file_is_hashed_again() -> None:
    files = memo.HashedFiles()
    files["a.yaml"] = b"a: 1\n"
    memo.file_digest(files, "a.yaml")
    files["a.yaml"] = b"a: 2\n"  # as a declared patch does (compiler.render.patches)
    assert memo.file_digest(files, "a.yaml") == hashlib.sha256(b"a: 2\n").hexdigest()


def test_digests_travel_with_the_files() -> None:
    files = memo.HashedFiles()
    files["a.yaml"] = b"a: 1\n"
    digest = memo.file_digest(files, "a.yaml")
    back = pickle.loads(pickle.dumps(files, protocol=pickle.HIGHEST_PROTOCOL))
    assert dict(back) == {"a.yaml": b"a: 1\n"}
    assert back.sha256("a.yaml") == digest


def test_within_is_the_files_under_a_prefix() -> None:
    files = memo.HashedFiles()
    files.update({"models/a/x.yaml": b"x", "models/ab/y.yaml": b"y", "ci/z.yaml": b"z"})
    own = memo.Within(files, "models/a/")
    assert dict(own) == {"models/a/x.yaml": b"x"}
    assert len(own) == 1
    assert "models/ab/y.yaml" not in own
    with pytest.raises(KeyError):
        own.sha256("ci/z.yaml")


def test_a_render_hashes_each_spec_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    (tmp_path / "specs").mkdir()
    spec = sorted(SPECS.glob("*.yaml"))[0]
    (tmp_path / "specs" / spec.name).write_bytes(spec.read_bytes())
    monkeypatch.setattr(memo, "_STORE", {})
    hashed = _counting(monkeypatch)
    result = run([tmp_path / "specs"], root=tmp_path, render=True, jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    files = result.specs[0].files
    assert isinstance(files, memo.HashedFiles)
    for path in files:
        files.sha256(path)  # as the fresh tree's writer asks (compiler.output.staged)
    spec_files = set(files.values())
    assert len(files) > 10
    assert len([h for h in hashed if h in spec_files]) == len(files)
