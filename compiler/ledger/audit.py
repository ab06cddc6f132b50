"""The audit log: `audit/<model>.jsonl` in the deployment repository, one record per rollout commit.

Records follow `mlspec.dev/audit-record/v1` (docs/governance.md) and are hash-chained: `prev` is the
sha256 of the previous record's canonical JSON, or, for the first record under a new audit seed (a file
a target declares through `Target.locations`: the governance target's `audit-seed.json`), its digest.
The log is only ever appended to, in the
same commit that changes the stage, so git history and the log cannot disagree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from compiler.errors import UsageError
from compiler.planning.plan import canonical_json, sha256_text

SCHEMA = "mlspec.dev/audit-record/v1"
AUDIT_DIR = "audit"


class AuditError(UsageError, ValueError):
    """The existing audit log is not a valid chain; appending to it would hide that."""


def audit_path(model: str) -> str:
    return f"{AUDIT_DIR}/{model}.jsonl"


def record_digest(record: dict[str, Any]) -> str:
    return "sha256:" + sha256_text(canonical_json(record))


def seed_digest(tree: Path, rel: str | None) -> str | None:
    """The seed the deployment runs under: `seed_digest` of the seed file a target declared (the
    governance target's audit-seed.json), when it is in the tree."""
    if rel is None:
        return None
    path = tree / rel
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    value = data.get("seed_digest") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def read_log(raw: bytes | None, where: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for number, line in enumerate((raw or b"").decode().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise AuditError(f"{where}:{number}: not JSON") from exc
        if not isinstance(record, dict):
            raise AuditError(f"{where}:{number}: not an object")
        records.append(record)
    return records


def verify(records: list[dict[str, Any]], where: str) -> None:
    """Each record's `prev` is the digest of the one before, or the seed it starts under."""
    previous: dict[str, Any] | None = None
    for index, record in enumerate(records, 1):
        expected = [record.get("seed")]
        if previous is not None:
            expected.append(record_digest(previous))
            if record.get("seq") != previous.get("seq", 0) + 1:
                raise AuditError(f"{where}: record {index} has seq {record.get('seq')}, expected "
                                 f"{previous.get('seq', 0) + 1}")
        if record.get("prev") not in expected:
            raise AuditError(f"{where}: record {index} does not chain to the record before it")
        previous = record


def actor(repo_identity: dict[str, str]) -> str:
    """Who acted: MLSPEC_ACTOR (e.g. a CI run URL), else the git author the commit will carry."""
    explicit = os.environ.get("MLSPEC_ACTOR", "").strip()
    if explicit:
        return explicit
    return f"{repo_identity.get('GIT_AUTHOR_NAME', 'mlspec')} <{repo_identity.get('GIT_AUTHOR_EMAIL', '')}>"


def append(raw: bytes | None, where: str, body: dict[str, Any], seed: str | None) -> tuple[dict[str, Any], bytes]:
    """The new record (seq, prev, seed filled in) and the log's new bytes."""
    records = read_log(raw, where)
    verify(records, where)
    last = records[-1] if records else None
    prev = record_digest(last) if last is not None and last.get("seed") == seed else seed
    record = {"schema": SCHEMA, **body, "seq": (int(last.get("seq", 0)) + 1) if last else 1, "prev": prev,
              "seed": seed}
    text = (raw or b"").decode()
    if text and not text.endswith("\n"):
        text += "\n"
    return record, (text + canonical_json(record) + "\n").encode()
