"""docs/codes.md is exactly what scripts/codes_doc.py renders from the catalogue and the installed targets.

`pytest tests/test_codes_doc.py --update-golden` (or `python scripts/codes_doc.py > docs/codes.md`) rewrites it.
"""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

from compiler.codes import CODES
from compiler.live.verify import CODES as VERIFY_CODES
from compiler.render.plugins import Target, discover
from golden import REPO, check_text, registry_of

DOC = REPO / "docs" / "codes.md"


def codes_doc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("codes_doc", REPO / "scripts" / "codes_doc.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_codes_doc_is_current(update_golden: bool) -> None:
    check_text(codes_doc().render_codes_doc(), DOC, update_golden)


def test_every_code_is_documented_once() -> None:
    text = DOC.read_text()
    documented = re.findall(r"^\| `([A-Z]+\d+)` \|", text, flags=re.M)
    registry = discover()
    from compiler.validation import CODES as VALIDATION_CODES

    expected = [*CODES, *VERIFY_CODES, *VALIDATION_CODES,
                *(code for name in registry.names() for code in registry.targets[name].codes)]
    assert sorted(documented) == sorted(expected)
    assert len(set(documented)) == len(documented), "a code is defined twice (core and a target, or two targets)"


def test_catalogue_codes_are_well_formed() -> None:
    assert all(re.fullmatch(r"MLS\d{3}", code) for code in CODES)
    assert all(text.strip() for text in CODES.values())


def test_a_target_without_codes_and_pipes_in_text_render() -> None:
    class Quiet(Target):
        name = "quiet"
        description = "a | b"

    class Loud(Target):
        name = "loud"
        codes = {"LOU001": "x | y"}

    text = codes_doc().render_codes_doc(registry_of(Quiet(), Loud()))
    assert "## Target `quiet`\n\na \\| b\n\nThis target reports no diagnostics of its own." in text
    assert "| `LOU001` | x \\| y |" in text
    assert text.index("`loud`") < text.index("`quiet`")
