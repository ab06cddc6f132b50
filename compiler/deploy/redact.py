"""Redaction of values that look like secrets, before anything is shown in a diff or a PR comment.

Two signals: the key names a secret (`password`, `token`, `apiKey`, an env var `AWS_SECRET_ACCESS_KEY`),
or the value has a well-known credential shape (AWS access key ids, GitHub/GitLab/Slack tokens, private
key blocks, JWTs). References to a Secret by name (`secretKeyRef`, `secretName`, `secretRef`) are not
secret and stay visible: reviewers need them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from compiler.check import credentials

REDACTED = "***REDACTED***"

_SECRET_KEY = re.compile(r"(?i:pass(word|wd)?|token|secret|api[_-]?key|private[_-]?key|access[_-]?key|"
                         r"credentials?|(^|[_-])key$)|[a-z0-9]Key$")
_REFERENCE_KEY = re.compile(r"(Ref|Name|KeyRef|Refs|Names)$|^name$")
# `password: x`, `TOKEN=x`, `"apiKey": "x"` inside free text (scripts, Markdown, INI).
_TEXT_ASSIGNMENT = re.compile(
    r"""(?i)(?<![\w.-])(?P<key>[\w.-]{0,40}?(?:pass(?:word|wd)?|token|secret|api[_-]?key|private[_-]?key|"""
    r"""access[_-]?key)[\w.-]{0,40})"""
    r"""(?P<sep>["']?\s*[:=]\s*)(?P<quote>["']?)(?P<value>[^\s"',}]+)""")


def secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _REFERENCE_KEY.search(key)


def redact_text(text: str) -> str:
    text = credentials.redact(text, REDACTED)  # the shapes lint refuses (one definition)

    def assignment(match: re.Match[str]) -> str:
        value = match.group("value")
        if value == REDACTED or value.startswith(("$", "{{")):  # a variable reference is not the secret
            return match.group(0)
        return f"{match.group('key')}{match.group('sep')}{match.group('quote')}{REDACTED}"

    return _TEXT_ASSIGNMENT.sub(assignment, text)


def redact(value: Any, key: str = "") -> Any:
    """A copy of `value` with secret-looking values replaced; structure and non-secret values kept."""
    if isinstance(value, dict) and _REFERENCE_KEY.search(key):
        return {k: v if isinstance(v, str) else redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, dict):
        env_name = value.get("name") if isinstance(value.get("name"), str) else None
        out = {}
        for k, v in value.items():
            if env_name is not None and k == "value" and secret_key(env_name) and isinstance(v, (str, int, float)):
                out[k] = REDACTED  # env-var style {name: DB_PASSWORD, value: ...}
            else:
                out[k] = redact(v, str(k))
        return out
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str):
        if key and secret_key(key) and value:
            return REDACTED
        return redact_text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and key and secret_key(key):
        return REDACTED
    return value


def redact_at(value: Any, path: Sequence[Any], *, secret_object: bool = False) -> Any:
    """`value` as shown at field `path` (keys, list indexes, ("name", n) list items) of an object."""
    keys = [p for p in path if isinstance(p, str)]
    key = keys[-1] if keys else ""
    parent = keys[-2] if len(keys) > 1 else ""
    if secret_object and keys and keys[0] in ("data", "stringData", "binaryData"):
        return REDACTED  # a Kubernetes Secret's payload
    if parent and _REFERENCE_KEY.search(parent):
        return value if isinstance(value, str) else redact(value, key)
    if (key == "value" and len(path) > 1 and isinstance(path[-2], tuple) and isinstance(path[-2][1], str)
            and secret_key(path[-2][1]) and value is not None):
        return REDACTED
    return redact(value, key)
