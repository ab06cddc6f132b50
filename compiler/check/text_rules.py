"""Rules over every string of a spec: specs come from pull requests, so each value is untrusted.

- Control characters: a trailing newline in a value that becomes a path, a CODEOWNERS line or a
  Kubernetes name changes what that output means. Only prose (descriptions, the model card) and
  scripts (step command/args, env values) may span lines; nothing may hold NUL, CR, other C0/C1
  controls or bidirectional overrides (which make reviewed text read differently from what runs).
- Credentials: a token or a URL with credentials is refused in every field, with its position (one
  definition in compiler.check.credentials, shared with the diff redaction).
- URLs: runbooks are links people click, so http(s) only; repositories also allow git's ssh forms.
- Kubernetes label keys and values (metadata.labels, nodeSelector, tolerations) are checked here
  with the spec position rather than by `mlspec validate` on the output.

The string rules (`text_problems`) read the document as loaded, not the validated model: they judge
every string, key and unknown field included, even when another section has a schema error (a
credential must not hide behind a typo elsewhere). The flag and label rules need the typed steps, so
they run with the semantic rules (`structured_text_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from compiler.check import credentials
from compiler.diagnostics import Diagnostic, Path
from compiler.language import units
from compiler.language.spec import Spec
from compiler.language.yaml_watch import Watch, Watched

_ANY = "*"
# Fields whose value may span lines (newline and tab allowed), as paths with `*` for any key or index.
_MULTILINE: tuple[tuple[str | int, ...], ...] = (
    ("metadata", "description"),
    ("modelCard", _ANY),
    ("monitors", _ANY, "description"),
    ("pipeline", "steps", _ANY, "command", _ANY),
    ("pipeline", "steps", _ANY, "args", _ANY),
    ("pipeline", "steps", _ANY, "env", _ANY),
)
_HTTP_ONLY: tuple[tuple[str | int, ...], ...] = (("monitors", _ANY, "runbook"),)
_REPOSITORY: tuple[tuple[str | int, ...], ...] = (("model", "code", "repo"), ("data", "dvc", "repo"))
_URL_FIELDS = {p[-1] for p in (*_HTTP_ONLY, *_REPOSITORY)}

# C0 and C1 controls, DEL, and the Unicode bidirectional embeddings, overrides and isolates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MULTILINE_OK = {"\n", "\t"}
_SUSPECT = re.compile(f"{_CONTROL.pattern}|{credentials.PREFILTER.pattern}")
# A flag whose name ends in a secret's name: --password, --api-key, --auth-token (not --max-tokens).
_SECRET_FLAG = re.compile(r"--?[A-Za-z0-9_-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key)",
                          re.IGNORECASE)
URL_SECRET_HINT = ("remove the credentials from the URL: the pipeline reads them from a Secret (env: {NAME: "
                   "{secretRef: {name, key}}}), serving from its service account's storage secret")
SECRET_HINT = "reference a Kubernetes Secret instead: env: {NAME: {secretRef: {name: SECRET, key: KEY}}}"


@lru_cache(maxsize=4096)  # the specs of a run repeat a few hundred URL paths (`monitors.2.runbook`, ...)
def _matches(path: Path, patterns: tuple[tuple[str | int, ...], ...]) -> bool:
    return any(len(p) == len(path) and all(a in (_ANY, b) for a, b in zip(p, path, strict=True))
               for p in patterns)


# Strings of at most this length have their verdict remembered, up to this many strings per process.
_REMEMBERED_LENGTH = 64
_REMEMBERED_COUNT = 50_000


class _Verdicts(dict[str, bool]):
    """Whether `_SUSPECT` finds anything in a string, remembered per string.

    A lint asks about every string of every spec, and a run's specs repeat most of them (`python`, `-m`,
    step, feature and metric names): 1,000 generated specs asked 100k times about 13k distinct strings, and
    the regex searches were 4% of checking a spec. A remembered answer is one dictionary lookup, with no
    Python call (`__getitem__` of a dict; `__missing__` runs only for a string not seen yet). Specs are
    untrusted and a run may read any number of them: only short strings are kept, and only so many."""

    def __missing__(self, text: str) -> bool:
        found = _SUSPECT.search(text) is not None
        if len(text) <= _REMEMBERED_LENGTH and len(self) < _REMEMBERED_COUNT:
            self[text] = found
        return found


# True when a rule must look at the string: it holds a control character or a credential's first signs.
suspect = _Verdicts().__getitem__

# What the string rules look at, found by the YAML builder as it builds a spec's data (compiler.pipeline
# loads specs with it): the same strings as `_suspects`, in its order, without walking the data again.
WATCH = Watch(suspect, frozenset(f for f in _URL_FIELDS if isinstance(f, str)))

_ROOT = object()  # the document's own "key": its path is ()


def _suspects(value: Any) -> Iterator[tuple[Path, str, bool]]:
    """(path, text, is_key) for every string value and mapping key under `value` that a rule must look at:
    one a cheap regex flags (a control character, a credential's shape), or a URL field's value.

    Lint runs this for every spec (~220 strings each, nearly all plain): building each string's path was
    most of the string rules' time, so a path is built only for what is yielded and for collections.
    The order is that of a depth-first walk from the last child back (a stack), keys as their mapping is
    entered; tests/test_text_rules_walk.py compares it with the plain walk."""
    flagged, urls = suspect, _URL_FIELDS
    if isinstance(value, str):
        if flagged(value):
            yield (), value, False
        return
    stack: list[tuple[Path, Any, Any]] = [((), _ROOT, value)]  # (parent's path, key or index, node)
    while stack:
        parent, key, node = stack.pop()
        if isinstance(node, str):
            if flagged(node) or key in urls:
                yield (*parent, key), node, False
            continue
        path = parent if key is _ROOT else (*parent, key)
        if isinstance(node, dict):
            for name, item in node.items():
                if isinstance(name, str) and flagged(name):
                    yield (*path, name), name, True
                stack.append((path, name, item))
        elif isinstance(node, list | tuple):
            stack.extend((path, index, item) for index, item in enumerate(node))


def _shown(char: str) -> str:
    return {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL byte"}.get(
        char, f"the control character U+{ord(char):04X}")


def text_problems(data: Any, watched: list[Watched] | None = None) -> Iterator[Diagnostic]:
    """Control characters, credentials and URL forms in every string of the document `data` (as loaded).

    `watched`: what WATCH reported while `data` was built (compiler.language.yamlsource.load_document), the
    strings `_suspects(data)` would yield; without it the data is walked."""
    suspects = _suspects(data) if watched is None else watched
    for path, text, is_key in suspects:  # plain text in a field that is not a URL is skipped there
        bad = None
        if _CONTROL.search(text):  # rare: decide what the field allows only then (lint runs this for every spec)
            allowed = _MULTILINE_OK if not is_key and _matches(path, _MULTILINE) else set()
            bad = next((c for c in _CONTROL.findall(text) if c not in allowed), None)
        if bad is not None:
            where = "key" if is_key else "value"
            hint = ("remove it; only descriptions, the model card and step scripts may span lines"
                    if bad in _MULTILINE_OK else "remove it: it hides or changes what reviewers read")
            yield Diagnostic("MLS240", f"the {where} contains {_shown(bad)}", path=path, hint=hint)
            continue
        found = credentials.first(text)
        if found is not None:
            where = "key" if is_key else "value"
            hint = URL_SECRET_HINT if found.what == credentials.URL else SECRET_HINT
            yield Diagnostic("MLS225", f"the {where} contains {found.what}", path=path, hint=hint)
            continue
        if not is_key and path and path[-1] in _URL_FIELDS:
            yield from _url(path, text)


def beside_schema_errors(found: list[Diagnostic], schema: list[Diagnostic]) -> list[Diagnostic]:
    """`found` without the findings on a value a schema error already refuses (one problem per value: its
    hint already says what to write), except credentials: a secret must go whatever else is wrong."""
    refused = {d.path for d in schema}
    return [d for d in found if d.code == "MLS225" or d.path not in refused]


def structured_text_problems(spec: Spec) -> Iterator[Diagnostic]:
    """Secrets passed as flags and Kubernetes label syntax: rules that need the typed steps."""
    yield from _secret_flags(spec)
    yield from _labels(spec)


def _url(path: Path, text: str) -> Iterator[Diagnostic]:
    if _matches(path, _HTTP_ONLY) and not units.is_web_url(text):
        yield Diagnostic("MLS241", f"{text!r} is not an http(s) URL", path=path,
                         hint="runbooks are links: write https://host/path")
    if _matches(path, _REPOSITORY) and not units.is_repository_url(text):
        yield Diagnostic("MLS241", f"{text!r} is not a repository URL", path=path,
                         hint="write https://host/org/repo, ssh://git@host/org/repo or git@host:org/repo")


def _literal(value: str) -> bool:
    """A value written in the spec, not a reference the runtime fills in ($VAR, $(VAR), {{...}})."""
    return bool(value) and not value.startswith(("$", "{{"))


def _secret_flags(spec: Spec) -> Iterator[Diagnostic]:
    for i, step in enumerate(spec.pipeline.steps):
        for field in ("command", "args"):
            items = getattr(step, field) or []
            for j, item in enumerate(items):
                if not item.startswith("-"):  # not a flag (_SECRET_FLAG's first character): most items
                    continue
                flag, eq, value = item.partition("=")
                if not _SECRET_FLAG.fullmatch(flag):
                    continue
                if not eq:
                    value = items[j + 1] if j + 1 < len(items) and not items[j + 1].startswith("-") else ""
                if _literal(value) and credentials.first(value) is None:  # a token is reported on its own
                    yield Diagnostic("MLS225", f"{flag} is given a secret written in the spec",
                                     path=("pipeline", "steps", i, field, j),
                                     hint="pass it through an environment variable from a Secret: "
                                          "env: {NAME: {secretRef: {name, key}}} and args: [--flag, $(NAME)]")


def _labels(spec: Spec) -> Iterator[Diagnostic]:
    value_hint = "at most 63 of A-Z a-z 0-9 - _ . starting and ending with a letter or digit"
    key_hint = "an optional DNS prefix and '/', then at most 63 of A-Z a-z 0-9 - _ . (alphanumeric at both ends)"
    for key, value in spec.metadata.labels.items():
        if not units.is_label_value(value):
            yield Diagnostic("MLS242", f"{value!r} is not a Kubernetes label value",
                             path=("metadata", "labels", key), hint=value_hint)
    for i, step in enumerate(spec.pipeline.steps):
        base: Path = ("pipeline", "steps", i)
        for key, value in step.nodeSelector.items():
            if not units.is_label_key(key):
                yield Diagnostic("MLS242", f"{key!r} is not a Kubernetes label key",
                                 path=(*base, "nodeSelector", key), hint=key_hint)
            elif not units.is_label_value(value):
                yield Diagnostic("MLS242", f"{value!r} is not a Kubernetes label value",
                                 path=(*base, "nodeSelector", key), hint=value_hint)
        for j, toleration in enumerate(step.tolerations):
            if not units.is_label_key(toleration.key):
                yield Diagnostic("MLS242", f"{toleration.key!r} is not a Kubernetes label key",
                                 path=(*base, "tolerations", j, "key"), hint=key_hint)
            if toleration.value is not None and not units.is_label_value(toleration.value):
                yield Diagnostic("MLS242", f"{toleration.value!r} is not a toleration value (a label value)",
                                 path=(*base, "tolerations", j, "value"), hint=value_hint)
