"""The render and lint caches live in the spec repository, which pull requests change: a cache file is
unpickled only when it carries this user's seal (compiler.output.sealed), so a pickle planted there
(`git add -f .mlspec-cache/...`) never runs, and the run renders from scratch instead."""

from __future__ import annotations

import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compiler.output import sealed
from golden import REPO

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import make_spec


class Planted:
    """Unpickling this creates `marker`: the proof that a cache file's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    for index in (0, 2):
        (root / "specs" / f"model-{index:04d}.yaml").write_text(yaml.safe_dump(make_spec(index), sort_keys=False))
    monkeypatch.chdir(root)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.delenv("MLSPEC_CACHE_DIR", raising=False)  # the default: beside mlspec.yaml, in the repository
    sealed.key.cache_clear()
    return root


def _mlspec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compiler", *args], capture_output=True, text=True, check=False)


def sealed_tag(out: Path) -> str:
    from compiler.output.stamp import out_tag

    return out_tag(out)


def _tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_a_planted_cache_file_is_never_unpickled(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for args in (("render", "--out", str(out)), ("render", "--out", str(out)), ("lint",)):
        assert _mlspec(*args).returncode == 0  # the second render records the stamp
    written = _tree(out)
    cache = project / ".mlspec-cache"
    files = [p for p in cache.iterdir() if p.name != ".gitignore"]
    # The render stamp, the index and its shards, the plans, the memo and the lint cache.
    tag = sealed_tag(out)
    assert {"lint.pickle", f"render-{tag}.stamp", f"render-{tag}.pickle", f"render-{tag}.plans.pickle"} <= {
        p.name for p in files}
    marker = tmp_path / "ran"
    for path in files:
        path.write_bytes(pickle.dumps(Planted(marker)))
    (out / "models" / "model-0000" / "kserve" / "staging" / "inferenceservice.yaml").write_text("edited\n")
    for args in (("render", "--out", str(out)), ("lint",), ("render", "--out", str(out))):
        assert _mlspec(*args).returncode == 0
    assert not marker.exists()
    assert _tree(out) == written  # rendered from scratch: the hand edit is repaired, nothing else differs


def test_a_seal_from_another_key_or_a_spliced_payload_is_refused(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "mine"))
    sealed.key.cache_clear()
    path = tmp_path / "file.pickle"
    with open(path, "wb") as handle:
        sealed.dump(handle, {"a": 1})
    with open(path, "rb") as handle:
        assert sealed.load(handle) == {"a": 1}
    genuine = path.read_bytes()
    header = genuine[: len(sealed.MAGIC) + 32]
    path.write_bytes(header + pickle.dumps(Planted(tmp_path / "ran"), protocol=pickle.HIGHEST_PROTOCOL))
    with open(path, "rb") as handle, pytest.raises(ValueError, match="does not verify"):
        sealed.load(handle)
    path.write_bytes(genuine)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    sealed.key.cache_clear()
    with open(path, "rb") as handle, pytest.raises(ValueError, match="does not verify"):
        sealed.load(handle)
    assert not (tmp_path / "ran").exists()


def test_the_key_is_private_to_the_user_and_a_readable_one_is_not_used(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    sealed.key.cache_clear()
    first = sealed.key()
    path = tmp_path / "mlspec" / "cache.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == first
    sealed.key.cache_clear()
    assert sealed.key() == first  # the next process reads the same key
    os.chmod(path, 0o644)  # anyone could read it, and so forge a seal: not a key
    sealed.key.cache_clear()
    assert sealed.key() != first
    sealed.key.cache_clear()
