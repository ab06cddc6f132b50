"""The spec's JSON Schema (draft 2020-12) for editors; the repository keeps a copy in docs/."""

from __future__ import annotations

import json
from typing import Any

from compiler.spec import Spec

SCHEMA_ID = "https://mlspec.dev/schema/mlspec-v1.schema.json"


def spec_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "mlspec Model (mlspec/v1)", **schema}


def spec_schema_text() -> str:
    return json.dumps(spec_schema(), indent=2, sort_keys=True) + "\n"
