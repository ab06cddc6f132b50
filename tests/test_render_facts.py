"""Target.file_facts: what render_repository would read back from each rendered file, computed from its
data where the spec's files are serialized. The gitops target's facts must be exactly its classification
of the bytes, and a render must then read none of the specs' files back."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from compiler.pipeline import run
from compiler.render import memo
from golden import REPO, SPECS
from targets.gitops import layout

sys.path.insert(0, str(REPO / "scripts"))
from gen_specs import generate


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mlspec.yaml").write_text("apiVersion: mlspec/v1\nkind: Project\n")
    generate(8, tmp_path / "specs")
    for path in sorted(SPECS.glob("*.yaml")):
        (tmp_path / "specs" / path.name).write_bytes(path.read_bytes())
    return tmp_path


def test_gitops_facts_are_its_classification_of_the_bytes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "_STORE", {})
    result = run([project / "specs"], root=project, render=True, jobs=1)
    assert result.ok, [d.to_text() for d in result.diagnostics]
    by_digest: dict[str, list[str]] = {}
    for spec in result.specs:
        for path, data in spec.files.items():
            by_digest.setdefault(hashlib.sha256(data).hexdigest(), []).append(path)
    facts = {key: value for spec in result.specs for key, value in spec.facts.items()}
    yaml_files = [p for spec in result.specs for p in spec.files if p.endswith(".yaml")]
    assert len(yaml_files) > 150
    covered = set()
    for (namespace, digest), value in facts.items():
        if digest not in by_digest:
            continue  # the bytes a declared patch then changed: render_repository reads that file back
        for path in by_digest[digest]:  # files with the same bytes share their facts
            expected_namespace, is_kustomization_file = layout.classify_namespace(path)
            if namespace == expected_namespace:
                assert value == layout.classify(result.files()[path], is_kustomization_file), path
                covered.add(path)
    patched = {path for spec in result.specs for path in spec.files
               if spec.plan is not None and spec.plan.patches and path.startswith(f"models/{spec.plan.name}/")}
    assert sorted(set(yaml_files) - covered - patched) == []
    assert len(covered) > 150
    kinds = {value[0] for value in facts.values() if value is not None}
    assert kinds == {"kustomization", "manifests"}


def test_render_reads_none_of_the_specs_files_back(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "_STORE", {})
    parsed: list[bytes] = []
    real = layout.load_yaml

    def counting(data: bytes) -> object:
        parsed.append(data)
        return real(data)

    monkeypatch.setattr(layout, "load_yaml", counting)
    result = run([project / "specs"], root=project, render=True, jobs=1)
    assert result.ok
    # Only the files a declared patch changed after they were serialized are read back.
    unpatched = {data for spec in result.specs if spec.plan is not None and not spec.plan.patches
                 for data in spec.files.values()}
    assert len(unpatched) > 150
    assert [data[:200] for data in parsed if data in unpatched] == []
    assert len(parsed) < len(result.project_files) + 10
    assert result.project_files  # the gitops target still wrote its layout


def test_a_specs_facts_are_known_only_while_its_share_is_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "_STORE", {("kept", "a"): 1})
    with memo.preloaded({("kept", "a"): 2, ("spec", "b"): 3}):
        assert memo.cached("spec", "b", lambda: 0) == 3
        assert memo.cached("kept", "a", lambda: 0) == 2
    assert memo._STORE == {("kept", "a"): 2}
