"""Diff reports: text for terminals, JSON for tools, Markdown for a pull-request comment.

GitHub rejects comments over 65,536 characters. The Markdown report always keeps the summary and the
table of changed resources, then adds per-resource details while they fit, and says what was left out.
"""

from __future__ import annotations

import json
import re

from compiler.deploy.diff import ResourceDiff, TreeDiff

MARKDOWN_LIMIT = 65_536
_STATUS_WORD = {"added": "added", "changed": "changed", "removed": "removed", "unchanged": "unchanged"}
_SIGN = {"added": "+", "changed": "~", "removed": "-", "unchanged": " "}


def summary_line(diff: TreeDiff) -> str:
    s = diff.summary
    return (f"{s['added']} added, {s['changed']} changed, {s['removed']} removed, "
            f"{s['unchanged']} unchanged resource(s)")


def _change_lines(entry: ResourceDiff) -> list[str]:
    out = []
    for change in entry.changes:
        by = f"  (patch: {change.patch})" if change.patch else ""
        if change.op == "~":
            out.append(f"  ~ {change.path}: {change.old} -> {change.new}{by}")
        elif change.op == "+":
            out.append(f"  + {change.path}: {change.new}{by}")
        else:
            out.append(f"  - {change.path}: {change.old}{by}")
    return out


def to_text(diff: TreeDiff, title: str = "") -> str:
    lines = [f"{title}: {summary_line(diff)}" if title else summary_line(diff)]
    for entry in diff.resources:
        if entry.status == "unchanged":
            continue
        lines.append("")
        lines.append(f"{_SIGN[entry.status]} {entry.title} {_STATUS_WORD[entry.status]} [{entry.file}]")
        lines.extend(_change_lines(entry))
        if entry.unified:
            lines.extend(f"    {line}" for line in entry.unified.splitlines())
    return "\n".join(lines) + "\n"


def to_json(diff: TreeDiff, title: str = "") -> str:
    data = {"title": title, "summary": diff.summary, "different": diff.different,
            "resources": [r.to_json() for r in diff.resources if r.status != "unchanged"]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def code(text: str) -> str:
    """An inline code span that no backtick in `text` can close early; newlines flattened."""
    text = text.replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def block(text: str, lang: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _md_section(entry: ResourceDiff) -> str:
    parts = [f"#### {_SIGN[entry.status].strip() or '='} {code(entry.title)} {entry.status}", "",
             f"file: {code(entry.file)}", ""]
    for change in entry.changes:
        by = f" (patch {code(change.patch)})" if change.patch else ""
        if change.op == "~":
            parts.append(f"- {code(change.path)}: {code(str(change.old))} → {code(str(change.new))}{by}")
        elif change.op == "+":
            parts.append(f"- added {code(change.path)}: {code(str(change.new))}{by}")
        else:
            parts.append(f"- removed {code(change.path)}: {code(str(change.old))}{by}")
    if entry.unified:
        parts += ["", "<details><summary>unified diff</summary>", "", block(entry.unified, "diff"), "",
                  "</details>"]
    return "\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return code(text).replace("|", "\\|")


def to_markdown(diff: TreeDiff, title: str = "", limit: int = MARKDOWN_LIMIT) -> str:
    """Summary first; then the table of changed resources and their details while they fit in `limit`."""
    changed = [r for r in diff.resources if r.status != "unchanged"]
    text = "\n".join([f"### mlspec diff{': ' + code(title) if title else ''}", "", f"**{summary_line(diff)}**",
                      ""]) + "\n"
    reserve = len(_cut_note(len(changed), 10**6)) + 1
    if changed:
        rows = ["| | resource | file |\n", "|---|---|---|\n"]
        rows += [f"| {r.status} | {_cell(r.title)} | {_cell(r.file)} |\n" for r in changed]
        rows.append("\n")
        for index, row in enumerate(rows):
            if len(text) + len(row) + reserve > limit:
                return text + ("\n" if index else "") + _cut_note(len(changed), limit - len(text) - 1)
            text += row
    for index, entry in enumerate(changed):
        section = _md_section(entry) + "\n"
        if len(text) + len(section) + reserve > limit:
            return text + _cut_note(len(changed) - index, limit - len(text))
        text += section
    return text


def _cut_note(remaining: int, room: int) -> str:
    note = (f"_Details of {remaining} resource(s) omitted to stay under {MARKDOWN_LIMIT:,} characters; "
            f"run `mlspec diff` locally for the full diff._\n")
    return note if len(note) <= room else note[:max(room, 0)]


def render(diff: TreeDiff, fmt: str, title: str = "") -> str:
    if fmt == "json":
        return to_json(diff, title)
    if fmt == "markdown":
        return to_markdown(diff, title)
    return to_text(diff, title)
