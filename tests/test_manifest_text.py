"""The incremental render joins the manifest from each entry's text (compiler.output.tree_files): the
result must be `Manifest.to_json()` byte for byte, whatever the entries hold."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.output.manifest import Manifest
from compiler.output.tree_files import entry_text, manifest_json

text = st.text(max_size=12)  # any code point: non-ASCII, quotes, backslashes, control characters, U+2028
leaf = st.one_of(text, st.integers(), st.booleans(), st.none())
value: st.SearchStrategy[Any] = st.recursive(
    leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=12)
entries = st.dictionaries(text, st.dictionaries(text, value, max_size=4), max_size=4)


@settings(max_examples=200, deadline=None)
@given(specs=entries, files=entries)
def test_the_joined_manifest_is_to_json(specs: dict[str, dict[str, Any]], files: dict[str, dict[str, Any]]) -> None:
    # The incremental render sorts both sections before joining them (to_json sorts every mapping).
    specs, files = dict(sorted(specs.items())), dict(sorted(files.items()))
    manifest = Manifest("0.1.0", specs, files)
    assert manifest_json(manifest, {}, {}) == manifest.to_json()
    known = {key: entry_text(key, entry) for key, entry in files.items()}
    assert manifest_json(manifest, known, {}) == manifest.to_json()
