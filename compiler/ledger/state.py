"""The rollout state in the deployment repository: per model and environment, the live stage.

One JSON file per model, `.mlspec/rollout/<model>.json`, next to the manifest (mlspec's own directory:
targets cannot write there and drift never reports it). Rendering reads it (`load_states`) to choose
the stage the environment's kustomization.yaml selects; `mlspec rollout` rewrites it in the same commit
as the re-rendered kustomization, so the repository never says one stage while serving another.

    {"schema": "mlspec.dev/rollout-state/v1", "model": "fraud-detector",
     "environments": {"production": {"version": "12", "stage": "canary-5",
                                     "since": "2025-05-01T10:00:00.000Z",
                                     "history": [{"at": ..., "event": "promote", "from": "shadow",
                                                  "to": "canary-5", "version": "12", "actor": ...,
                                                  "reason": ...}]}}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from compiler.errors import UsageError
from compiler.planning.plan import ActiveStage

SCHEMA = "mlspec.dev/rollout-state/v1"
STATE_DIR = ".mlspec/rollout"
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class StateError(UsageError, ValueError):
    """A rollout state file that cannot be read; the message names the file."""


def state_path(model: str) -> str:
    if not _NAME.fullmatch(model):  # match(...$) would let "name\n" through into a path
        raise StateError(f"{model!r} is not a model name")
    return f"{STATE_DIR}/{model}.json"


def now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds: stage holds in tests are seconds long."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise StateError(f"{text!r} is not an RFC 3339 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(slots=True)
class EnvState:
    version: str
    stage: str
    since: str  # when this stage went live (the commit that selected it)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        return {"version": self.version, "stage": self.stage, "since": self.since, "history": self.history}


@dataclass(slots=True)
class ModelState:
    model: str
    environments: dict[str, EnvState] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        data = {"schema": SCHEMA, "model": self.model,
                "environments": {k: v.to_data() for k, v in sorted(self.environments.items())}}
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def parse_state(raw: bytes, where: str) -> ModelState:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise StateError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise StateError(f"{where}: not a {SCHEMA} document")
    model = data.get("model")
    envs = data.get("environments")
    if not isinstance(model, str) or not isinstance(envs, dict):
        raise StateError(f"{where}: needs `model` and `environments`")
    state = ModelState(model)
    for name, entry in envs.items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("version", "stage", "since")):
            raise StateError(f"{where}: environment {name!r} needs string version, stage and since")
        history = entry.get("history", [])
        if not isinstance(history, list):
            raise StateError(f"{where}: environment {name!r}: history is not a list")
        parse_timestamp(entry["since"])
        state.environments[str(name)] = EnvState(entry["version"], entry["stage"], entry["since"], history)
    return state


def read_state(tree: Path, model: str) -> tuple[ModelState, bytes | None]:
    """The model's state and the file's bytes (None when there is no file yet: an empty state)."""
    rel = state_path(model)
    path = tree / rel
    if not path.is_file():
        return ModelState(model), None
    raw = path.read_bytes()
    state = parse_state(raw, rel)
    if state.model != model:
        raise StateError(f"{rel}: holds the state of {state.model!r}")
    return state, raw


def state_files(tree: Path) -> dict[str, bytes]:
    """Every state file's bytes, by path relative to the tree."""
    base = tree / STATE_DIR
    if not base.is_dir():
        return {}
    return {f"{STATE_DIR}/{p.name}": p.read_bytes() for p in sorted(base.glob("*.json")) if p.is_file()}


def states_from_files(files: Mapping[str, bytes]) -> dict[str, dict[str, ActiveStage]]:
    """The rendering input: model -> environment -> (version, stage)."""
    out: dict[str, dict[str, ActiveStage]] = {}
    for rel, raw in sorted(files.items()):
        state = parse_state(raw, rel)
        out[state.model] = {env: ActiveStage(e.version, e.stage) for env, e in state.environments.items()}
    return out


def load_states(tree: Path) -> dict[str, dict[str, ActiveStage]]:
    return states_from_files(state_files(tree))
