"""`json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)`, byte for byte, faster.

With `indent`, the standard library runs its pure-Python encoder: the manifest, audit seeds and the
pipelines embedded in the schedule ConfigMaps cost seconds per 1,000 specs. Containers are laid out here
and strings escaped by the C encoder; anything but exact dicts with string keys, lists, tuples and
scalars is left to json.dumps (tests/test_serialize.py compares the two).
"""

from __future__ import annotations

import json
from typing import Any


class _Unsupported(Exception):
    """Data json.dumps writes in a way this module does not reproduce: it is left to json.dumps."""


def pretty_json(data: Any) -> str:
    """`json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)` (see the module docstring)."""
    out: list[str] = []
    try:
        _json(data, "\n", out)
    except (_Unsupported, TypeError):  # json.dumps writes it, or raises its own TypeError
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return "".join(out)


_encode_string: Any = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _json(value: Any, newline: str, out: list[str]) -> None:
    kind = type(value)
    if kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        # Sorting keys of mixed types raises TypeError, and so does encoding a key that is not a string
        # (json.dumps turns those into strings after sorting them): either way pretty_json leaves the
        # whole value to json.dumps.
        for key in sorted(value):
            item = value[key]
            if type(item) is str:  # most values: one string, without a call per value
                out.append(separator + _encode_string(key) + ": " + _encode_string(item))
            else:
                out.append(separator + _encode_string(key) + ": ")
                _json(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is str:
        out.append(_encode_string(value))
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            if type(item) is str:
                out.append(separator + _encode_string(item))
            else:
                out.append(separator)
                _json(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and value == value and value not in (float("inf"), float("-inf")):
        out.append(float.__repr__(value))
    else:
        raise _Unsupported
