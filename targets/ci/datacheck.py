"""`mlspec data check`: the validate_data stage's check, run inside CI.

Inputs come from the environment the workflow sets (never from argv built by a script): DATA_PIN_KIND,
DATA_DIGEST, FEATURE_EXPECTATIONS (JSON), and the files `data-pin` (the fetched data) and, for DVC,
`data-pin.dvc` (the .dvc file at the pinned registry commit). With PROMPT_SHA256 set, the file
`prompt-pin` (the prompt template fetched from the code repository at the pinned commit) must hash to
it. Exit 0 clean, 1 a check failed, 2 bad input.

The rendered workflows call the public verb, never this module's path: module paths are not a contract.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import click


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dvc_file_md5(text: str) -> str | None:
    import yaml

    data = yaml.safe_load(text)
    outs = data.get("outs") if isinstance(data, dict) else None
    if isinstance(outs, list) and outs and isinstance(outs[0], dict):
        value = outs[0].get("md5")
        return str(value) if value is not None else None
    return None


def check_pin(kind: str, digest: str, data: Path, dvc_file: Path) -> list[str]:
    problems = []
    if kind == "dvc":
        declared = dvc_file_md5(dvc_file.read_text()) if dvc_file.is_file() else None
        if declared != digest:
            problems.append(f"the .dvc file at the pinned commit declares md5 {declared!r}, the spec pins {digest!r}")
        # A file's DVC md5 is the md5 of its bytes; a directory's (.dir) covers a listing DVC checks itself.
        if not digest.endswith(".dir") and data.is_file() and file_digest(data, "md5") != digest:
            problems.append("the fetched data does not match the pinned md5")
    elif kind == "file":
        if not data.is_file():
            problems.append("the pinned data file was not fetched")
        elif file_digest(data, "sha256") != digest:
            problems.append("the fetched data does not match the pinned sha256")
    else:
        problems.append(f"unknown pin kind {kind!r}")
    return problems


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            yield {k: (None if v == "" else v) for k, v in row.items()}


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq  # type: ignore[import-not-found]  # optional: only parquet data needs it

    yield from pq.read_table(path).to_pylist()


READERS = {".csv": _csv_rows, ".jsonl": _jsonl_rows, ".ndjson": _jsonl_rows, ".parquet": _parquet_rows}


def data_files(root: Path, location: str) -> list[tuple[Path, str]]:
    """(file, format suffix): a fetched single file takes its format from the pinned location's name."""
    if root.is_file():
        suffix = Path(location).suffix.lower()
        return [(root, suffix)] if suffix in READERS else []
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return [(p, p.suffix.lower()) for p in files if p.suffix.lower() in READERS]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def check_features(rows: Iterator[Mapping[str, Any]], features: Sequence[Mapping[str, Any]]) -> list[str]:
    problems: list[str] = []
    total = 0
    nulls = {f["name"]: 0 for f in features}
    bad: dict[str, str] = {}
    columns: set[str] | None = None
    for row in rows:
        total += 1
        if columns is None:
            columns = set(row)
        for feature in features:
            name = feature["name"]
            value = row.get(name)
            if value is None:
                nulls[name] += 1
                continue
            if name in bad:
                continue
            if feature.get("allowed") is not None and str(value) not in {str(a) for a in feature["allowed"]}:
                bad[name] = f"{name}: value {value!r} is not one of the allowed values"
            elif feature.get("min") is not None or feature.get("max") is not None:
                number = _number(value)
                if number is None:
                    bad[name] = f"{name}: value {value!r} is not a number"
                elif feature.get("min") is not None and number < feature["min"]:
                    bad[name] = f"{name}: value {number} is below the minimum {feature['min']}"
                elif feature.get("max") is not None and number > feature["max"]:
                    bad[name] = f"{name}: value {number} is above the maximum {feature['max']}"
    if total == 0:
        return ["the data has no rows"]
    for feature in features:
        name = feature["name"]
        if columns is not None and name not in columns:
            problems.append(f"{name}: column is missing")
            continue
        fraction = nulls[name] / total
        limit = feature.get("max_null_fraction")
        if not feature.get("nullable") and nulls[name]:
            problems.append(f"{name}: {nulls[name]} null value(s) in a non-nullable feature")
        elif limit is not None and fraction > limit:
            problems.append(f"{name}: null fraction {fraction:.4f} exceeds {limit}")
    problems.extend(bad[name] for name in sorted(bad))
    return problems


def main(environ: Mapping[str, str] = os.environ, cwd: Path = Path(".")) -> int:
    try:
        kind, digest = environ["DATA_PIN_KIND"], environ["DATA_DIGEST"]
        features = json.loads(environ.get("FEATURE_EXPECTATIONS", "[]"))
    except (KeyError, json.JSONDecodeError) as exc:
        print(f"datacheck: bad input: {exc}", file=sys.stderr)
        return 2
    data = cwd / "data-pin"
    problems = check_pin(kind, digest, data, cwd / "data-pin.dvc")
    files = data_files(data, environ.get("DATA_LOCATION", "")) if data.exists() else []
    if features and not files:
        print("datacheck: no csv, jsonl or parquet data found; feature expectations not checked", file=sys.stderr)
    for path, suffix in files:
        reader = READERS[suffix]
        problems.extend(f"{path.relative_to(cwd).as_posix()}: {p}" for p in check_features(reader(path), features))
    problems.extend(check_prompt(environ.get("PROMPT_SHA256", ""), cwd / "prompt-pin"))
    for problem in problems:
        print(f"datacheck: {problem}", file=sys.stderr)
    if not problems:
        print(f"datacheck: pin {kind} {digest} verified; {len(files)} file(s) meet {len(features)} expectation(s)")
    return 1 if problems else 0


def check_prompt(pinned: str, fetched: Path) -> list[str]:
    """The prompt the model will run with is the one the spec pins (sha256 of the file's bytes)."""
    if not pinned:
        return []
    if not fetched.is_file():
        return ["the pinned prompt file was not fetched (prompt-pin is missing)"]
    actual = file_digest(fetched, "sha256")
    if actual != pinned:
        return [f"the prompt file hashes to sha256 {actual}, the spec pins {pinned}"]
    return []


@click.group("data")
def data_command() -> None:
    """Checks the CI stages run on the training data and the prompt pin."""


@data_command.command("check")
def check_command() -> None:
    """Verify the fetched data (./data-pin) and prompt (./prompt-pin) against the pins in the environment."""
    sys.exit(main())
