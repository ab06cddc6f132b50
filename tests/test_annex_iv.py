"""The EU AI Act Annex IV technical documentation skeleton (targets/governance/annex_iv.py) and its GOV rules.

Judged by a real CommonMark parser (markdown-it-py): the headings it finds must be Annex IV's points in
the regulation's own numbering and order (Regulation (EU) 2024/1689, Annex IV points 1(a)-(h),
2(a)-(h), 3-9), spec text must not be able to add or remove structure, and every TODO must appear in the
closing checklist.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from compiler.planning.plan import Plan
from golden import edited_example, render_examples
from targets.governance import GovernanceTarget, annex_iv_path
from targets.governance.annex_iv import TODO
from targets.governance.settings import GovernanceSettings

TARGET = GovernanceTarget()
DEFAULTS = GovernanceSettings()
# Annex IV of Regulation (EU) 2024/1689, in its order.
ANNEX_IV = [*(f"1({c})" for c in "abcdefgh"), *(f"2({c})" for c in "abcdefgh"), "3", "4", "5", "6", "7", "8", "9"]


def _plans() -> dict[str, Plan]:
    result = render_examples(TARGET)
    return {s.plan.name: s.plan for s in result.specs if s.plan is not None}


def _annex(plan: Plan, settings: GovernanceSettings = DEFAULTS) -> str | None:
    files = {f.path: f.content for f in TARGET.render(plan, settings)}
    return files.get(annex_iv_path(plan))


def _structure(markdown: str) -> list[tuple[str, str]]:
    """(token type, content) of every block a CommonMark parser sees, text blocks reduced to their type."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    out = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            out.append((token.tag, tokens[i + 1].content))
        elif token.type in ("html_block", "fence", "code_block", "hr", "table_open"):
            out.append((token.type, token.content if token.type == "html_block" else ""))
        elif token.type in ("bullet_list_open", "ordered_list_open"):
            out.append((token.type, ""))
    return out


def _headings(markdown: str) -> list[str]:
    return [content for tag, content in _structure(markdown) if tag == "h2"]


def test_only_high_risk_models_get_annex_iv() -> None:
    plans = _plans()
    assert plans["fraud-detector"].risk == "high"
    assert _annex(plans["fraud-detector"]) is not None
    for name, plan in plans.items():
        if plan.risk != "high":
            assert _annex(plan) is None, name


def test_headings_follow_annex_iv_numbering() -> None:
    text = _annex(_plans()["fraud-detector"])
    assert text is not None
    numbers = [h.split(" ", 1)[0] for h in _headings(text)]
    assert numbers == [*ANNEX_IV, "Still"]
    assert _headings(text)[-1] == "Still to be written"
    h1 = [content for tag, content in _structure(text) if tag == "h1"]
    assert h1 == ["EU AI Act Annex IV technical documentation: fraud-detector"]


def _section(text: str, number: str) -> str:
    start = text.index(f"\n## {number} ")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_what_the_spec_knows_is_filled_in() -> None:
    plan = _plans()["fraud-detector"]
    text = _annex(plan)
    assert text is not None
    purpose = "Intended purpose: Real-time fraud scoring of card-not-present transactions in the EU."
    assert purpose in _section(text, "1(a)")
    assert "replaces version `11` at `s3://models/fraud-detector/11`" in _section(text, "1(a)")
    data = _section(text, "2(d)")
    assert f"`{plan.data.hash}`" in data
    assert "`9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b`" in data
    assert "Training data: Twelve months" in data
    assert "`validate-data`" in _section(text, "2(a)")
    assert "`evaluate`" in _section(text, "2(a)")
    gates = _section(text, "2(g)")
    assert "`auc >= 0.92, >= baseline - 0.005`" in gates
    assert "`latency_p99_ms <= 50`" in gates
    assert "approval by `@acme/fraud-ml`" in _section(text, "2(e)")
    monitoring = _section(text, "9")
    for monitor in plan.monitors:
        assert f"Monitor `{monitor.name}`" in monitoring
    assert "kept 183 days" in monitoring


def test_every_todo_is_in_the_checklist_and_provider_fills_one() -> None:
    plan = _plans()["fraud-detector"]
    text = _annex(plan)
    assert text is not None
    body, checklist = text.split("\n## Still to be written\n")
    todos = [line for line in body.splitlines() if line.startswith(f"- {TODO}")]
    boxes = [line for line in checklist.splitlines() if line.startswith("- [ ] ")]
    assert len(todos) == len(boxes) > 0
    assert "name the provider" in _section(text, "1(a)")
    named = _annex(plan, GovernanceSettings(provider="Acme Payments | SE"))
    assert named is not None
    assert "name the provider" not in named
    assert "Provider: Acme Payments \\| SE" in _section(named, "1(a)")
    # points 5, 7 and 8 cannot come from a spec
    for number in ("5", "7", "8"):
        assert TODO in _section(text, number)


PAYLOAD = ("x -->\n<!-- hide\n## 5 Fake point\n- [ ] done\n```\n| a | b |\n<script>alert(1)</script>\n1. list\n"
           "    code")


def _spec_with(tmp_path: Path, edit: Any) -> Path:
    return edited_example(tmp_path, edit)


def test_spec_text_cannot_change_the_structure(tmp_path: Path) -> None:
    def edit(value: str) -> Any:
        def apply(data: dict[str, Any]) -> None:
            data["metadata"]["description"] = value
            for key in ("intendedUse", "limitations", "ethicalConsiderations", "trainingData", "evaluationData"):
                data["modelCard"][key] = value
            data["modelCard"]["outOfScopeUse"] = value
        return apply

    def render(path: Path) -> str:
        files = render_examples(TARGET, specs=[path]).files()
        return files["models/fraud-detector/governance/annex-iv.md"].decode()

    evil = render(_spec_with(tmp_path / "a", edit(PAYLOAD)))
    good = render(_spec_with(tmp_path / "b", edit("plain")))
    assert _structure(evil) == _structure(good)
    assert "<script>" not in evil
    assert "alert(1)" in evil  # the words stay, inert


def test_gov_rules_for_annex_iv_gaps() -> None:
    plan = _plans()["fraud-detector"]

    def codes(p: Plan, settings: GovernanceSettings = DEFAULTS) -> list[str]:
        return sorted(d.code for d in TARGET.check(p, settings))

    assert "GOV020" in codes(plan)
    assert "GOV020" not in codes(plan, GovernanceSettings(provider="Acme"))
    assert "GOV021" in codes(plan)  # the example states no out-of-scope use
    stated = dataclasses.replace(plan, model_card=dataclasses.replace(plan.model_card, out_of_scope_use="x"))
    assert "GOV021" not in codes(stated)
    assert "GOV022" not in codes(plan)
    assert "GOV022" in codes(dataclasses.replace(plan, model_card=dataclasses.replace(
        plan.model_card, ethical_considerations=None)))
    assert "GOV023" not in codes(plan)
    baseline_only = dataclasses.replace(plan, gates=tuple(dataclasses.replace(g, min=None, max=None, baseline=True)
                                                          for g in plan.gates))
    assert "GOV023" in codes(baseline_only)
    assert plan.rollout is not None
    unmonitored = dataclasses.replace(plan, monitors=(), rollout=dataclasses.replace(
        plan.rollout, rollback_on=(), advance_when_quiet=()))
    assert "GOV024" in codes(unmonitored)
    assert "define monitors" in (_annex(unmonitored) or "")
    for tier in ("limited", "minimal"):
        lower = dataclasses.replace(unmonitored, risk=tier)
        assert not {"GOV020", "GOV021", "GOV022", "GOV024"} & set(codes(lower))


@pytest.mark.parametrize("bad", ["Acme\nEvil", "Acme\x1b[31m", "", "x" * 201])
def test_provider_setting_refuses_unsafe_values(bad: str) -> None:
    with pytest.raises(ValueError, match="validation error"):
        GovernanceSettings.model_validate({"provider": bad})
