"""The pull-request review comment: what a change means, per model, the way a good reviewer says it.

Order of the comment: per model (highest risk tier first, so a cut never hides the riskiest model),
one line naming the model, its risk and its version change, the changed spec fields in the spec's own
terms, and the live stage when known; then, folded, a per-resource table in which identical changes
repeated across rollout stages are shown once with the list of stages. Provenance digests (which
change on every edit) are left out unless asked for. The whole comment stays under GitHub's limit,
cutting the least risky models' details first and saying so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.deploy.diff import FieldChange, ResourceDiff, TreeDiff, show
from compiler.deploy.redact import redact
from compiler.deploy.report import MARKDOWN_LIMIT, block, code, summary_line
from compiler.render.fieldpaths import field_changes, format_path
from compiler.render.provenance import PREFIX

RISK_ORDER = {"unacceptable": 0, "high": 1, "limited": 2, "minimal": 3}
PROJECT = "(project)"
# Provenance that changes with every edit: digests, the compiler version and hashes.
_PROVENANCE = re.compile(
    rf"(.*\[\"?{re.escape(PREFIX)}/(spec-digest|plan-digest|compiler-version|data-hash|code-commit)\"?\]"
    rf"|.*\.{re.escape(PREFIX)}/(spec-digest|plan-digest|compiler-version)|\(text\))"
)
_DIGEST = re.compile(r"(sha256:)?[0-9a-f]{40,64}")
_STAGE_DIR = re.compile(r"models/[^/]+/[^/]+/(?P<env>[^/]+)/stages/(?P<stage>[^/]+)/")
_MODEL_DIR = re.compile(r"models/(?P<model>[^/]+)/")


@dataclass(frozen=True, slots=True)
class SpecSide:
    """What the comment needs of one model's spec on one side of the change."""

    risk: str
    version: str
    data: Mapping[str, Any]


@dataclass(slots=True)
class ModelReview:
    name: str
    risk: str
    old: SpecSide | None
    new: SpecSide | None
    live: dict[str, str] = field(default_factory=dict)  # environment -> live stage
    resources: list[ResourceDiff] = field(default_factory=list)

    def headline(self) -> str:
        if self.new is None:
            return f"**{self.name}** removed"
        if self.old is None:
            return f"**{self.name}** added (risk: {self.risk}, version {code(self.new.version)})"
        version = (f"{code(self.old.version)} → {code(self.new.version)}" if self.old.version != self.new.version
                   else f"version {code(self.new.version)}")
        risk = self.risk if self.old.risk == self.risk else f"{self.old.risk} → {self.risk}"
        return f"**{self.name}** (risk: {risk}) {version}"

    def spec_value_changes(self) -> list[tuple[str, str]]:
        """(old, new) of every scalar the spec changed, to recognise rendered fields that merely echo it."""
        if self.old is None or self.new is None:
            return []
        return [(str(before), str(after)) for op, _, before, after in
                field_changes(dict(self.old.data), dict(self.new.data))
                if op == "~" and not isinstance(before, (dict, list)) and not isinstance(after, (dict, list))]

    def spec_changes(self) -> list[str]:
        if self.old is None or self.new is None:
            return []
        lines = []
        for op, path, before, after in field_changes(dict(self.old.data), dict(self.new.data)):
            where = code(format_path(path))
            old, new = show(redact(before)), show(redact(after))
            if op == "~":
                lines.append(f"{where}: {code(old)} → {code(new)}")
            elif op == "+":
                lines.append(f"{where} added: {code(new)}")
            else:
                lines.append(f"{where} removed (was {code(old)})")
        return lines


def model_of(path: str) -> str:
    found = _MODEL_DIR.match(path)
    return found["model"] if found else PROJECT


def _where(path: str) -> str:
    """A stage or environment name for a rendered file, to list where one change repeats."""
    if (stage := _STAGE_DIR.match(path)) is not None:
        return f"{stage['env']}/{stage['stage']}"
    parts = path.split("/")
    return "/".join(parts[2:-1]) if len(parts) > 3 else path


def _is_provenance(change: FieldChange) -> bool:
    """Digests and hashes that follow from any edit, and the file a resource moved between (the table's
    `where` column shows it)."""
    if change.path == "(file)" or _PROVENANCE.fullmatch(change.path):
        return True
    return change.op == "~" and all(_DIGEST.fullmatch(str(v)) for v in (change.old, change.new))


def _visible(changes: Iterable[FieldChange], provenance: bool) -> tuple[FieldChange, ...]:
    return tuple(c for c in changes if provenance or not _is_provenance(c))


def _kind_and_name(entry: ResourceDiff) -> tuple[str, str]:
    if entry.ident:
        namespace = entry.ident.get("namespace", "")
        return entry.ident["kind"], f"{namespace}/{entry.ident['name']}" if namespace else entry.ident["name"]
    name = entry.file.rsplit("/", 1)[-1]
    return "file", name


def _echoes(change: FieldChange, spec_values: list[tuple[str, str]]) -> bool:
    """A rendered field that only repeats a value the spec changed (a version label, a URI, a summary
    naming the version): the spec line above already says it."""
    if change.op != "~":
        return False
    old, new = str(change.old), str(change.new)
    return any(before in old and old.replace(before, after) == new for before, after in spec_values if before)


def _table(model: ModelReview, provenance: bool) -> list[str]:
    """Rows grouped so that one change repeated in several stages is one row listing the stages."""
    spec_values = model.spec_value_changes()
    groups: dict[tuple[Any, ...], list[str]] = {}
    details: dict[tuple[Any, ...], tuple[tuple[FieldChange, ...], int]] = {}
    for entry in model.resources:
        changes = _visible(entry.changes, provenance)
        if entry.status == "changed" and not changes:
            continue
        own = tuple(c for c in changes if not _echoes(c, spec_values))
        kind, name = _kind_and_name(entry)
        key = (entry.status, kind, name, tuple((c.op, c.path, c.old, c.new, c.patch) for c in own),
               len(changes) - len(own))
        groups.setdefault(key, []).append(_where(entry.file))
        details[key] = (own, len(changes) - len(own))
    rows = ["| change | kind | resource | where | fields |", "|---|---|---|---|---|"]
    for key in sorted(groups, key=lambda k: (k[1], k[2], k[0])):
        status, kind, name = key[:3]
        own, echoed = details[key]
        fields = "<br>".join(_field(c) for c in own[:6])
        if len(own) > 6:
            fields += f"<br>… {len(own) - 6} more"
        if echoed:
            fields += f"{'<br>' if fields else ''}{echoed} field(s) follow the spec change"
        places = ", ".join(sorted(set(groups[key])))
        rows.append(f"| {status} | {kind} | {_cell(name)} | {_cell(places)} | {fields.replace('|', '&#124;')} |")
    return rows if len(rows) > 2 else []


def _field(change: FieldChange) -> str:
    by = f" (patch {code(change.patch)})" if change.patch else ""
    if change.op == "~":
        return f"{code(change.path)}: {code(str(change.old))} → {code(str(change.new))}{by}"
    if change.op == "+":
        return f"+ {code(change.path)}{by}"
    return f"- {code(change.path)}{by}"


def _cell(text: str) -> str:
    return code(text).replace("|", "&#124;")


def build(diff: TreeDiff, old_specs: Mapping[str, SpecSide], new_specs: Mapping[str, SpecSide],
          live: Mapping[str, Mapping[str, str]]) -> list[ModelReview]:
    by_model: dict[str, list[ResourceDiff]] = {}
    for entry in diff.resources:
        if entry.status != "unchanged":
            by_model.setdefault(model_of(entry.file), []).append(entry)
    names = set(by_model) | {n for n in new_specs if old_specs.get(n) != new_specs.get(n)}
    names |= {n for n in old_specs if n not in new_specs}
    reviews = []
    for name in names:
        old, new = old_specs.get(name), new_specs.get(name)
        side = new or old
        risk = side.risk if side is not None else ""
        reviews.append(ModelReview(name, risk, old, new, dict(live.get(name, {})), by_model.get(name, [])))
    return sorted(reviews, key=lambda r: (r.name == PROJECT, RISK_ORDER.get(r.risk, 9), r.name))


def to_markdown(diff: TreeDiff, old_specs: Mapping[str, SpecSide], new_specs: Mapping[str, SpecSide],
                live: Mapping[str, Mapping[str, str]], title: str = "", *, provenance: bool = False,
                limit: int = MARKDOWN_LIMIT) -> str:
    reviews = build(diff, old_specs, new_specs, live)
    head = [f"### mlspec review{' against ' + code(title) if title else ''}", "",
            f"{len([r for r in reviews if r.name != PROJECT])} model(s) changed; {summary_line(diff)}", ""]
    summaries, folds = [], []
    for review in reviews:
        table = _table(review, provenance)
        if review.name == PROJECT and not table:
            continue  # project files whose only changes are provenance
        lines = [f"- {review.headline() if review.name != PROJECT else '**project-wide files**'}"]
        lines += [f"  - {line}" for line in review.spec_changes()]
        lines += [f"  - {env} live stage: {code(stage)}" for env, stage in sorted(review.live.items())]
        summaries.append("\n".join(lines))
        if table:
            counts = {s: sum(1 for r in review.resources if r.status == s) for s in ("added", "changed", "removed")}
            label = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            unified = [f"<details><summary>unified diff of {code(r.title)}</summary>\n\n{block(r.unified, 'diff')}"
                       "\n\n</details>\n" for r in review.resources if r.unified]
            folds.append("\n".join([f"<details><summary>{review.name}: {label} resource(s)</summary>", "",
                                    *table, "", *unified, "</details>", ""]))
    text = "\n".join(head) + "\n".join(summaries) + "\n\n"
    if len(text) > limit:
        return text[: limit - 80] + "\n\n_(cut to fit; run `mlspec diff` locally for the rest)_\n"
    for index, fold in enumerate(folds):
        if len(text) + len(fold) + 120 > limit:
            return text + f"_Resource tables of {len(folds) - index} model(s) omitted (least risky last); " \
                          "run `mlspec diff` locally for them._\n"
        text += fold + "\n"
    if not provenance:
        text += "<sub>Provenance digests are hidden; `mlspec diff --provenance` shows them.</sub>\n"
    return text


def spec_sides(result: Any, root: Path) -> dict[str, SpecSide]:
    """Per model name, its spec's risk, version and data, read from the files a run planned."""
    from compiler.language.yamlsource import load_document

    out = {}
    for spec in result.specs:
        if spec.plan is None:
            continue
        try:
            raw = (root / spec.rel_path).read_bytes()
        except OSError:
            continue
        document, _ = load_document(raw, spec.rel_path)
        data = document.data if document is not None and isinstance(document.data, dict) else {}
        out[spec.plan.name] = SpecSide(spec.plan.risk, spec.plan.model.version, data)
    return out
