"""The exported JSON Schema: valid draft 2020-12, accepts every example, rejects the corpus's shape errors."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from compiler.language.jsonschema_export import spec_schema
from compiler.language.yamlsource import load_document
from golden import GOLDEN, REPO, SPECS

SCHEMA_FILE = REPO / "docs" / "mlspec-v1.schema.json"
EXAMPLES = sorted(SPECS.glob("*.yaml"))
CORPUS = REPO / "tests" / "invalid"
MODELINE = "# yaml-language-server: $schema=../docs/mlspec-v1.schema.json\n"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def data_of(path: Path) -> Any:
    doc, problems = load_document(path.read_bytes(), path.name)
    assert doc is not None
    assert not problems
    return doc.data


def test_the_committed_schema_is_the_exported_one() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == spec_schema()


def test_schema_has_descriptions_for_editors() -> None:
    text = SCHEMA_FILE.read_text()
    assert text.count('"description"') > 50
    assert json.loads(text)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_and_has_the_modeline(path: Path) -> None:
    errors = sorted(validator().iter_errors(data_of(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    assert path.read_text().startswith(MODELINE)


def _shape_cases() -> list[str]:
    """Corpus cases whose only findings are schema-shape errors (unknown key, missing, type, enum)."""
    cases = []
    for golden in sorted((GOLDEN / "lint").rglob("*.txt")):
        # Only findings in the spec itself: a project-file case has a valid spec.
        codes = set(re.findall(r"^tests/invalid/\S+: error (MLS\d{3}) ", golden.read_text(), flags=re.M))
        if codes and codes <= {"MLS101", "MLS102", "MLS103", "MLS104"}:
            cases.append(golden.relative_to(GOLDEN / "lint").with_suffix(".yaml").as_posix())
    return cases


SHAPE_CASES = _shape_cases()


def test_there_are_shape_cases() -> None:
    assert len(SHAPE_CASES) >= 6


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_schema_rejects_what_lint_rejects_for_shape(case: str) -> None:
    """An editor using the schema flags the same shape errors the compiler does."""
    assert not validator().is_valid(data_of(CORPUS / case))
