"""Diagnostics: every problem mlspec finds in user input is one of these, never an exception.

A diagnostic names a file and a dotted path into the document; the position (line, column) is
filled in from the source map of the file, so rules and targets only ever speak in paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """`("owners", 0, "email")` -> `owners[0].email`; the form users see in messages."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<root>"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    severity: Severity = Severity.ERROR
    path: Path = ()
    file: str = ""
    line: int = 0  # 1-based; 0 means "the file as a whole"
    col: int = 0
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def at(self, file: str, line: int, col: int) -> Diagnostic:
        return replace(self, file=file, line=line, col=col)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.col, self.code, self.message)

    def location(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file or "<input>"

    def to_text(self) -> str:
        head = f"{self.location()}: {self.severity.value} {self.code} {dotted(self.path)}: {self.message}"
        if self.hint:
            head += f"\n  hint: {self.hint}"
        return head

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity.value,
            "code": self.code,
            "path": dotted(self.path),
            "message": self.message,
            "hint": self.hint,
        }

    def to_github(self) -> str:
        # Workflow commands end at a newline and treat `%`, `\r`, `\n` (and `,`/`:` in properties)
        # as syntax, so escape them the way the runner expects.
        def esc(text: str, prop: bool = False) -> str:
            text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            if prop:
                text = text.replace(":", "%3A").replace(",", "%2C")
            return text

        level = "error" if self.is_error else "warning"
        props = [f"file={esc(self.file, True)}"]
        if self.line:
            props += [f"line={self.line}", f"col={self.col}"]
        props.append(f"title={esc(self.code, True)}")
        body = f"{dotted(self.path)}: {self.message}"
        if self.hint:
            body += f"\nhint: {self.hint}"
        return f"::{level} {','.join(props)}::{esc(body)}"

    def to_codequality(self) -> dict[str, object]:
        """One issue of GitLab's Code Quality report (a subset of Code Climate's format), which GitLab
        shows in the merge request widget and the diff."""
        import hashlib

        description = f"{self.code} {dotted(self.path)}: {self.message}"
        if self.hint:
            description += f" (hint: {self.hint})"
        identity = "\0".join((self.file, self.code, dotted(self.path), self.message))
        return {
            "description": description,
            "check_name": self.code,
            "fingerprint": hashlib.sha256(identity.encode()).hexdigest(),
            "severity": "major" if self.is_error else "minor",
            "location": {"path": self.file, "lines": {"begin": max(self.line, 1)}},
        }


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice a typo most likely meant, for did-you-mean hints."""
    import difflib

    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(set(diags), key=Diagnostic.sort_key)


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diags)


def format_diagnostics(diags: Sequence[Diagnostic], fmt: str) -> str:
    """Render diagnostics for `--format text|json|github|gitlab`; text ends with a one-line summary.

    `gitlab` is a Code Quality report: save it as the job's `artifacts:reports:codequality`.
    """
    if fmt == "gitlab":
        return json.dumps([d.to_codequality() for d in diags], indent=2, sort_keys=True)
    if fmt == "json":
        return json.dumps([d.to_json() for d in diags], indent=2, sort_keys=True)
    if fmt == "github":
        return "\n".join(d.to_github() for d in diags)
    lines = [d.to_text() for d in diags]
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    if diags:
        lines.append(f"{errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)
