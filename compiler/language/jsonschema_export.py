"""JSON Schemas (draft 2020-12) of the spec and of `mlspec.yaml`, for editors.

A spec repository keeps versioned copies under `.mlspec/schemas/` (written by `mlspec init` and
`mlspec schema --sync`, checked by `mlspec schema --check` and its pre-commit hook), so the
`yaml-language-server` modeline in every spec resolves inside the repository itself, offline, and
always against the schema of the mlspec version the repository uses. This repository keeps its own
copies in docs/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMA_ID = "https://mlspec.dev/schema/mlspec-v1.schema.json"
PROJECT_SCHEMA_ID = "https://mlspec.dev/schema/mlspec-project-v1.schema.json"
SCHEMA_DIR = Path(".mlspec") / "schemas"
MODEL_SCHEMA_FILE = "mlspec-v1.schema.json"
PROJECT_SCHEMA_FILE = "mlspec-project-v1.schema.json"


def spec_schema() -> dict[str, Any]:
    from compiler.language.spec import Spec

    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    return {**schema, "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "mlspec Model (mlspec/v1)"}


def project_schema() -> dict[str, Any]:
    from compiler.language.project import Project

    schema = Project.model_json_schema(by_alias=True, mode="validation")
    return {**schema, "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": PROJECT_SCHEMA_ID,
            "title": "mlspec project configuration (mlspec.yaml)"}


def _text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def spec_schema_text() -> str:
    return _text(spec_schema())


def project_schema_text() -> str:
    return _text(project_schema())


SCHEMAS: dict[str, Callable[[], str]] = {MODEL_SCHEMA_FILE: spec_schema_text, PROJECT_SCHEMA_FILE: project_schema_text}


def stale_schemas(root: Path) -> list[Path]:
    """The schema copies under `root/.mlspec/schemas/` that are missing or differ from this version's."""
    stale = []
    for name, text in SCHEMAS.items():
        path = root / SCHEMA_DIR / name
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != text():
            stale.append(path)
    return stale


def sync_schemas(root: Path, write_file: Callable[[Path, bytes], None]) -> list[Path]:
    """Write the schema copies that are stale with `write_file` (the output layer's atomic writer, passed
    down so the language layer never imports upward); returns what was written."""
    from compiler.errors import EnvironmentFault

    written = []
    for path in stale_schemas(root):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EnvironmentFault("create directory", path.parent, exc) from exc
        write_file(path, SCHEMAS[path.name]().encode())
        written.append(path)
    return written


def modeline(document: Path, root: Path, schema_file: str = MODEL_SCHEMA_FILE) -> str:
    """The `yaml-language-server` modeline for `document`, relative to it, so it works in any checkout."""
    target = os.path.relpath(root / SCHEMA_DIR / schema_file, document.parent)
    return f"# yaml-language-server: $schema={Path(target).as_posix()}\n"
