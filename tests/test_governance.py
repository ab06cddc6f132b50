"""The governance target: CODEOWNERS, model cards (front matter, Mermaid, escaping), audit seeds, GOV rules.

No upstream tool judges these files, so the tests carry their own checkers: a CODEOWNERS syntax checker
(the subset GitHub and GitLab both read), a Mermaid flowchart structure checker, a Markdown skeleton
(headings, fences, table shapes, HTML) that spec text must not be able to change, and a two-parser
round trip of the front matter.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from codeowners import CodeOwners
from huggingface_hub import ModelCard
from markdown_it import MarkdownIt
from ruamel.yaml import YAML

from compiler.planning.plan import Plan, canonical_json, sha256_text
from golden import GOLDEN, SPECS, check_tree, edited_example, render_examples
from targets.governance import GovernanceTarget, audit_path, card_path
from targets.governance import card as card_module
from targets.governance.escape import MermaidIds, md_code, md_text, mermaid_label
from targets.governance.settings import GovernanceSettings

TARGET = GovernanceTarget()
DEFAULTS = GovernanceSettings()


@cache
def _examples() -> tuple[dict[str, bytes], tuple[Plan, ...]]:
    result = render_examples(TARGET)
    plans = tuple(s.plan for s in result.specs if s.plan is not None)
    return result.files(), plans


def _plan(name: str) -> Plan:
    return next(p for p in _examples()[1] if p.name == name)


def _cards() -> dict[str, str]:
    files, _ = _examples()
    return {path: data.decode() for path, data in files.items() if path.endswith("/README.md")}


# --- checkers -------------------------------------------------------------------------------------

_CO_OWNER = re.compile(r"^(@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9_.-]+)?|[^@\s#]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})$")


def codeowners_problems(text: str) -> list[str]:
    """Rules both GitHub and GitLab read the same way, and nothing an untrusted value could smuggle in."""
    problems = []
    if "\r" in text or "\t" in text or "\x00" in text:
        problems.append("control characters")
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line != line.strip() or "  " in line:
            problems.append(f"{number}: irregular spacing")
        pattern, *owners = line.split(" ")
        if re.search(r"[\[\]\\!?#]", pattern) or pattern.startswith("!"):
            problems.append(f"{number}: pattern {pattern!r} uses syntax the forges read differently")
        if ".." in pattern.split("/") or "//" in pattern:
            problems.append(f"{number}: pattern {pattern!r} is not a clean path")
        if not owners:
            problems.append(f"{number}: no owners")
        problems.extend(f"{number}: bad owner {o!r}" for o in owners if not _CO_OWNER.fullmatch(o))
        if len(set(owners)) != len(owners):
            problems.append(f"{number}: duplicate owner")
    return problems


def owners_of(codeowners: str, path: str) -> list[str]:
    """Who owns `path`, as the `codeowners` package (GitHub's matching rules, last match wins) resolves it."""
    return [owner for _, owner in CodeOwners(codeowners).of(path)]


_SHAPES = {"[": "]", "(": ")", "{": "}", "[(": ")]", "([": "])", "[[": "]]", "[/": "/]"}
_NODE = re.compile(r'^(?P<id>[A-Za-z0-9_]+)(?P<open>\[\(|\(\[|\[\[|\[/|\[|\(|\{)(?P<label>"[^"\n]*")'
                   r'(?P<close>\)\]|\]\)|\]\]|/\]|\]|\)|\})$')
_EDGE = re.compile(r'^(?P<a>[A-Za-z0-9_]+) (?:-->|-\.->)(?:\|(?P<label>"[^"\n]*")\|)? (?P<b>[A-Za-z0-9_]+)$')
_SUBGRAPH = re.compile(r'^subgraph (?P<id>[A-Za-z0-9_]+)\[(?P<label>"[^"\n]*")\]$')
_RESERVED = {"end", "graph", "flowchart", "subgraph", "class", "classdef", "click", "style", "linkstyle"}


def _label_problems(label: str) -> list[str]:
    inner = label[1:-1]
    found = []
    if re.search(r'["<>`\n]', inner):
        found.append(f"raw markup in label {label!r}")
    if re.search(r"#(?!\d+;)", inner):
        found.append(f"'#' that is not an entity in {label!r}")
    if "%%" in inner or "--" in inner:
        found.append(f"comment or edge run in {label!r}")
    return found


def mermaid_problems(block: list[str]) -> list[str]:
    """A flowchart: a header, node declarations, subgraphs that close, and edges between declared nodes."""
    problems = []
    if not block or not re.fullmatch(r"flowchart (TD|LR)", block[0]):
        return [f"bad header {block[:1]!r}"]
    declared: set[str] = set()
    edges: list[tuple[str, str]] = []
    depth = 0
    for raw in block[1:]:
        line = raw.strip()
        if (node := _NODE.match(line)) is not None:
            if _SHAPES.get(node["open"]) != node["close"]:
                problems.append(f"mismatched shape in {line!r}")
            if node["id"] in declared:
                problems.append(f"node {node['id']} declared twice")
            declared.add(node["id"])
            problems += _label_problems(node["label"])
        elif (edge := _EDGE.match(line)) is not None:
            edges.append((edge["a"], edge["b"]))
            if edge["label"]:
                problems += _label_problems(edge["label"])
        elif (sub := _SUBGRAPH.match(line)) is not None:
            depth += 1
            declared.add(sub["id"])  # edges may start or end at a subgraph
            problems += _label_problems(sub["label"])
        elif line == "end":
            depth -= 1
            if depth < 0:
                problems.append("`end` without subgraph")
        else:
            problems.append(f"unrecognised line {line!r}")
    if depth:
        problems.append("unclosed subgraph")
    problems += [f"reserved id {i}" for i in declared if i.lower() in _RESERVED]
    for a, b in edges:
        problems += [f"edge to undeclared node {n}" for n in (a, b) if n not in declared]
    used = {n for e in edges for n in e}
    problems += [f"node {n} is not connected" for n in sorted(declared - used)]
    return problems


MARKDOWN = MarkdownIt("commonmark").enable("table")  # GitHub-flavoured tables, as the forges render cards


def mermaid_blocks(markdown: str) -> list[list[str]]:
    """The contents of the ```mermaid fences, as a CommonMark parser finds them."""
    return [t.content.splitlines() for t in MARKDOWN.parse(markdown) if t.type == "fence" and t.info == "mermaid"]


def split_card(text: str) -> tuple[str, str]:
    """(front matter, body): the front matter opens at byte 0 and closes at the first `---` line."""
    assert text.startswith("---\n"), "front matter must start at byte 0"
    end = text.index("\n---\n", 3)
    return text[4:end + 1], text[end + 5:]


def skeleton(body: str) -> list[str]:
    """The structure of a Markdown body as a CommonMark parser (markdown-it-py, with tables) sees it: block
    tokens and, inside inline content, everything but text (links, images, emphasis, code, raw HTML).
    Spec text must never add to or take from it."""
    out = []
    for token in MARKDOWN.parse(body):
        out.append(f"{token.type} {token.tag} {token.info}".rstrip())
        if token.type == "html_block":
            out.append(f"html {token.content.strip()[:40]}")
        for child in token.children or ():
            if child.type not in ("text", "softbreak", "hardbreak"):
                out.append(f"  {child.type} {child.tag}".rstrip())
    return out


def html_in(body: str) -> list[str]:
    """Raw HTML a renderer would pass through, other than the generated notice."""
    found = []
    for token in MARKDOWN.parse(body):
        if token.type == "html_block" and not token.content.startswith("<!-- Generated by mlspec "):
            found.append(token.content)
        found += [c.content for c in token.children or () if c.type == "html_inline"]
    return found


def model_card(text: str) -> ModelCard:
    """The card as the Hugging Face Hub client reads it; metadata errors (model-index included) raise."""
    return ModelCard(text, ignore_metadata_errors=False)


def _front_matter_both_ways(text: str) -> Any:
    matter, _ = split_card(text)
    pyyaml = yaml.safe_load(matter)
    ruamel = YAML(typ="safe", pure=True).load(io.StringIO(matter))
    assert pyyaml == ruamel
    return pyyaml


# --- golden and whole-output checks -----------------------------------------------------------------


def test_golden_tree(update_golden: bool) -> None:
    files, _ = _examples()
    check_tree(files, GOLDEN / "governance", update_golden)


def test_every_example_has_card_seed_and_codeowners_coverage() -> None:
    files, plans = _examples()
    assert len(plans) == len(list(SPECS.glob("*.yaml"))) >= 1
    text = files["CODEOWNERS"].decode()
    for plan in plans:
        assert card_path(plan) in files
        assert audit_path(plan) in files
        assert owners_of(text, card_path(plan)), plan.name
        assert owners_of(text, f"models/{plan.name}/kserve/production/kustomization.yaml"), plan.name
        assert owners_of(text, plan.provenance.spec_path), plan.name
    assert owners_of(text, "models/not-a-model/x.yaml") == []  # no rule owns more than its model


def test_codeowners_syntax_and_owner_choice() -> None:
    files, plans = _examples()
    text = files["CODEOWNERS"].decode()
    assert codeowners_problems(text) == []
    for plan in plans:
        wanted = list(dict.fromkeys(o.github or o.email for o in plan.owners if {"owner", "approver"} & set(o.roles)))
        assert owners_of(text, f"models/{plan.name}/kubeflow/pipeline.yaml") == wanted, plan.name
        assert owners_of(text, plan.provenance.spec_path) == wanted, plan.name
    # On-call-only people are not code owners.
    fraud = owners_of(text, "models/fraud-detector/governance/README.md")
    assert "risk-oncall@example.com" not in fraud
    assert fraud == ["@acme/fraud-ml"]


def test_codeowners_checker_catches_bad_lines() -> None:
    assert codeowners_problems("/a b @x\n")  # a space in a pattern splits it: `b` is no owner
    assert codeowners_problems("/models/x/ @ev il\n")
    assert codeowners_problems("/models/[x]/ @x\n")
    assert codeowners_problems("/models/x/\n")
    assert codeowners_problems("/models/x/ @x #y@z.com\n")
    assert codeowners_problems("/models/x/ @x\r\n")


@pytest.mark.parametrize("name", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_front_matter_round_trips_in_pyyaml_and_ruamel(name: str) -> None:
    text = _cards()[f"models/{name}/governance/README.md"]
    data = _front_matter_both_ways(text)
    plan = _plan(name)
    assert data == json.loads(json.dumps(card_module.front_matter(plan, DEFAULTS, audit_path(plan))))
    assert data["mlspec"]["plan_digest"] == f"sha256:{plan.digest}"
    assert data["mlspec"]["spec"] == plan.provenance.spec_path
    assert data["datasets"] == [plan.data.dataset]
    # The notice follows the front matter as an HTML comment, not inside it.
    _, body = split_card(text)
    assert body.startswith("<!-- Generated by mlspec ")
    # The Hub's own reader sees the same metadata, and the gates as evaluation results.
    card = model_card(text)
    assert card.data.to_dict() == data
    assert card.text.lstrip("\n") == body
    declared = [(g.metric, g.min if g.min is not None else g.max) for g in plan.gates
                if g.min is not None or g.max is not None]
    results = card.data.eval_results or []
    assert [(r.metric_type, r.metric_value) for r in results] == declared
    assert all(r.dataset_name == plan.data.dataset and r.dataset_revision == plan.data.hash for r in results)


def test_mermaid_blocks_are_well_formed() -> None:
    for path, text in _cards().items():
        blocks = mermaid_blocks(text)
        assert len(blocks) == 2, path
        for block in blocks:
            assert mermaid_problems(block) == [], (path, block)


def test_markdown_checkers_see_what_a_renderer_sees() -> None:
    plain = skeleton("Some text with \\# and \\| and \\<b>.\n")
    for injected in ("# Heading\n", "| a | b |\n|---|---|\n| 1 | 2 |\n", "- item\n", "    code\n",
                     "[x](https://evil.example)\n", "![i](x.png)\n", "text <b>bold</b>\n", "---\n"):
        assert skeleton(injected) != plain, injected
    assert html_in("text <b>x</b>\n") == ["<b>", "</b>"]
    assert html_in("<script>alert(1)</script>\n")
    assert html_in("<!-- Generated by mlspec 0.1.0 -->\n") == []
    with pytest.raises(ValueError, match="model_index"):
        model_card("---\nmodel-index:\n- name: x\n  results:\n  - metrics: []\n---\nbody\n")


def test_mermaid_checker_catches_mistakes() -> None:
    assert mermaid_problems(["flowchart TD", 'a["x"]', "a --> b"])  # undeclared node
    assert mermaid_problems(["flowchart TD", 'a-b["x"]'])  # '-' in an id
    assert mermaid_problems(["flowchart TD", 'end["x"]', 'a["y"]', "a --> end"])
    assert mermaid_problems(["flowchart TD", 'a["say "hi""]'])
    assert mermaid_problems(["flowchart TD", 'a["x"}', 'b["y"]', "a --> b"])
    assert mermaid_problems(["flowchart TD", 'subgraph s["x"]', 'a["y"]'])


def test_training_dag_follows_the_pipeline() -> None:
    plan = _plan("fraud-detector")
    block = mermaid_blocks(_cards()[card_path(plan)])[0]
    edges = {tuple(re.split(r" -\.?->(?:\|\"[^\"]*\"\|)? ", line.strip())) for line in block if "->" in line}
    assert ("step_validate_data", "step_train") in edges
    assert ("step_train", "step_evaluate") in edges
    assert ("step_evaluate", "gate_evaluation") in edges
    assert ("gate_evaluation", "register_fraud_detector") in edges
    assert ("gate_evaluation", "stop_rejected") in edges


def test_high_risk_card_documents_oversight_logging_and_rollback() -> None:
    plan = _plan("fraud-detector")
    assert plan.risk == "high"
    text = _cards()[card_path(plan)]
    for needle in ("## Risk tier: high", "Art. 11", "Art. 12", "Art. 14", "Art. 15",
                   "Payload logging is on", "waits for a human approval by `@acme/fraud-ml`",
                   "### Rollback path", "previous version `11` at `s3://models/fraud-detector/11`",
                   "183 days", "`latency-p99`: `p99 latency above 150ms for 10m`"):
        assert needle in text, needle
    rollout = mermaid_blocks(text)[1]
    assert any(line.strip().startswith("approval_production{") for line in rollout)
    assert "  env_staging --> approval_production" in rollout
    assert any('-->|"approved"| stage_shadow' in line for line in rollout)
    # one rollback edge from the whole production rollout, not a fan from every stage
    assert [line for line in rollout if "-.->" in line] == [
        '  env_production -.->|"fires: latency-p99, error-rate"| rollback_fraud_detector']
    seed = json.loads(_examples()[0][audit_path(plan)])
    assert seed["policy"]["approval_required"] == ["production"]
    assert seed["policy"]["payload_logging"] is True
    assert seed["policy"]["eu_ai_act_obligations"][0] == "art-11-technical-documentation"


def test_lower_tiers_do_not_claim_high_risk_measures() -> None:
    for path, text in _cards().items():
        if "risk_tier: high" not in text:
            assert "Art. 14" not in text, path


def test_audit_seed_is_self_describing_and_its_digest_verifies() -> None:
    files, plans = _examples()
    for plan in plans:
        seed = json.loads(files[audit_path(plan)])
        digest = seed.pop("seed_digest")
        assert digest == f"sha256:{sha256_text(canonical_json(seed))}"
        assert seed["provenance"]["plan_digest"] == f"sha256:{plan.digest}"
        assert seed["provenance"]["data"]["hash"] == plan.data.hash
        assert seed["provenance"]["code_commit"] == plan.model.code_commit
        assert [g["metric"] for g in seed["gates"]] == [g.metric for g in plan.gates]


def test_render_is_deterministic() -> None:
    plan = _plan("fraud-detector")
    first = [(f.path, f.content) for f in TARGET.render(plan, DEFAULTS)]
    second = [(f.path, f.content) for f in TARGET.render(plan, DEFAULTS)]
    assert first == second
    plans = list(_examples()[1])
    one = next(iter(TARGET.render_project(plans, DEFAULTS))).content
    two = next(iter(TARGET.render_project(sorted(plans, key=lambda p: p.name, reverse=True), DEFAULTS))).content
    assert one == two


# --- untrusted spec text --------------------------------------------------------------------------

PAYLOAD = ("Real text -->\n</script><script>alert(1)</script>\n---\nrisk: minimal\n---\n# Fake heading\n"
           "```mermaid\nflowchart LR\n```\n| a | b |\n<!-- hide the rest\n    indented code\n1. list\n"
           "- item\n[link](javascript:alert(1)) ![img](x) *em* `code` &amp; \\")


def _spec_with(tmp_path: Path, edit: Any) -> Path:
    return edited_example(tmp_path, edit)


def test_injection_in_spec_text_cannot_change_the_card_structure(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["metadata"]["description"] = PAYLOAD
        data["modelCard"]["limitations"] = PAYLOAD
        data["modelCard"]["caveats"] = PAYLOAD
        data["owners"][0]["name"] = "Eve | `x` | </td> -->"

    def clean(data: dict[str, Any]) -> None:
        data["metadata"]["description"] = "plain"
        data["modelCard"]["limitations"] = "plain"
        data["modelCard"]["caveats"] = "plain"
        data["owners"][0]["name"] = "plain"

    evil = render_examples(TARGET, specs=[_spec_with(tmp_path / "a", edit)]).files()
    good = render_examples(TARGET, specs=[_spec_with(tmp_path / "b", clean)]).files()
    evil_card = evil["models/fraud-detector/governance/README.md"].decode()
    good_card = good["models/fraud-detector/governance/README.md"].decode()
    evil_matter = _front_matter_both_ways(evil_card)
    good_matter = _front_matter_both_ways(good_card)
    for matter in (evil_matter, good_matter):  # the digests differ because the spec differs; nothing else may
        matter["mlspec"].pop("spec_digest")
        matter["mlspec"].pop("plan_digest")
    assert evil_matter == good_matter
    assert evil_matter["mlspec"]["risk_tier"] == "high"
    assert skeleton(split_card(evil_card)[1]) == skeleton(split_card(good_card)[1])
    assert html_in(split_card(evil_card)[1]) == []
    assert model_card(evil_card).data.to_dict()["mlspec"]["risk_tier"] == "high"
    assert mermaid_blocks(evil_card) == mermaid_blocks(good_card)
    assert "<script>" not in evil_card
    assert "-->\n" not in split_card(evil_card)[1].split("\n", 1)[1]
    # The words are all still there, just inert.
    assert "alert(1)" in evil_card
    assert "Fake heading" in evil_card


def test_injection_in_plan_values_cannot_break_front_matter_mermaid_or_codeowners() -> None:
    plan = _plan("fraud-detector")
    owners = (dataclasses.replace(plan.owners[0], github="@acme/fraud\n/models/ @evil"),
              dataclasses.replace(plan.owners[0], github=None, email="a#b@example.com"),
              dataclasses.replace(plan.owners[0], github="@good-one"))
    evil = dataclasses.replace(
        plan, owners=owners,
        data=dataclasses.replace(plan.data, dataset='cards"] --> x["owned', version="1\n---\nrisk: minimal"),
        model=dataclasses.replace(plan.model, uri="s3://x\n---\nmlspec: {}\n...\n", version="end`%%"),
        provenance=dataclasses.replace(plan.provenance, spec_path="specs/a b#c.yaml"),
    )
    text = next(f.content for f in TARGET.render(evil, DEFAULTS) if f.path.endswith("README.md"))
    matter = _front_matter_both_ways(text)
    assert matter["mlspec"]["model_uri"] == "s3://x\n---\nmlspec: {}\n...\n"
    assert matter["mlspec"]["risk_tier"] == "high"
    for block in mermaid_blocks(text):
        assert mermaid_problems(block) == [], block
    codeowners = next(iter(TARGET.render_project([evil], DEFAULTS))).content
    assert codeowners_problems(codeowners) == []
    assert owners_of(codeowners, "models/fraud-detector/kserve/x.yaml") == ["@good-one"]
    assert owners_of(codeowners, "models/other/x.yaml") == []  # the smuggled `/models/ @evil` rule is not there
    assert owners_of(codeowners, "specs/a b#c.yaml") == []  # an unsafe spec path gets no rule at all
    codes = sorted(d.code for d in TARGET.check(evil, DEFAULTS))
    assert codes.count("GOV003") == 2
    assert "GOV004" in codes


def test_escape_helpers() -> None:
    assert md_text("# x\n- y\n1. z\n    code") == "\\# x\n\\- y\n1\\. z\ncode"
    assert md_text("a <!-- b --> c") == "a \\<\\!-- b --\\> c"
    assert md_code("a`b|c") == "``a`b\\|c``"
    assert mermaid_label('a"b<c>#d\ne--f%%g') == '"a#34;b#60;c#62;#35;d e-#45;f%#37;g"'
    ids = MermaidIds()
    assert ids("step", "a-b") == "step_a_b"
    assert ids("step", "a_b") == "step_a_b_2"
    assert ids("step", "a-b") == "step_a_b"
    assert MermaidIds()("end", "") == "end_2"


# --- GOV rules ------------------------------------------------------------------------------------


def _codes(plan: Plan, settings: GovernanceSettings = DEFAULTS) -> list[str]:
    return sorted(d.code for d in TARGET.check(plan, settings))


def test_gov001_emails_only() -> None:
    plan = _plan("fraud-detector")
    no_handles = dataclasses.replace(plan, owners=tuple(dataclasses.replace(o, github=None) for o in plan.owners))
    assert "GOV001" in _codes(no_handles)
    assert "GOV001" not in _codes(plan)
    text = next(iter(TARGET.render_project([no_handles], DEFAULTS))).content
    assert owners_of(text, "models/fraud-detector/x.yaml") == ["fraud-owner@example.com"]


def test_gov002_no_owner_role_falls_back_to_everyone() -> None:
    plan = _plan("fraud-detector")
    reviewers = dataclasses.replace(plan, risk="minimal", owners=tuple(
        dataclasses.replace(o, roles=("reviewer",)) for o in plan.owners))
    assert "GOV002" in _codes(reviewers)
    text = next(iter(TARGET.render_project([reviewers], DEFAULTS))).content
    assert owners_of(text, "models/fraud-detector/x.yaml") == ["@acme/fraud-ml", "risk-oncall@example.com"]


def test_gov005_retention_below_six_months_for_high_risk() -> None:
    short = GovernanceSettings(log_retention_days=90)
    assert "GOV005" in _codes(_plan("fraud-detector"), short)
    assert "GOV005" not in _codes(dataclasses.replace(_plan("fraud-detector"), risk="limited"), short)


def test_gov006_high_risk_card_without_data_description() -> None:
    plan = _plan("fraud-detector")
    assert "GOV006" not in _codes(plan)  # the example describes its data
    undescribed = dataclasses.replace(plan, model_card=dataclasses.replace(
        plan.model_card, training_data=None, evaluation_data=None))
    assert "GOV006" in _codes(undescribed)


def test_codes_are_declared() -> None:
    plan = _plan("fraud-detector")
    bad = dataclasses.replace(plan, owners=(dataclasses.replace(plan.owners[0], github=None, email="a#b@x.io"),),
                              provenance=dataclasses.replace(plan.provenance, spec_path="a b.yaml"))
    for code in _codes(bad, GovernanceSettings(log_retention_days=1)):
        assert code in TARGET.codes


def test_settings_default_owners_and_path() -> None:
    settings = GovernanceSettings(codeowners_path=".github/CODEOWNERS", default_owners=("@acme/platform",),
                                  spec_prefix="ml/specs", license="apache-2.0", language=("en",))
    files = list(TARGET.render_project(list(_examples()[1]), settings))
    assert [f.path for f in files] == [".github/CODEOWNERS"]
    text = files[0].content
    assert codeowners_problems(text) == []
    assert owners_of(text, "README.md") == ["@acme/platform"]  # `*` first: everything else
    assert owners_of(text, ".github/CODEOWNERS") == ["@acme/platform"]  # last match wins: nobody else owns it
    assert owners_of(text, "ml/specs/specs/fraud-detector.yaml") == ["@acme/fraud-ml"]
    assert owners_of(text, "models/fraud-detector/kserve/x.yaml") == ["@acme/fraud-ml"]
    matter = _front_matter_both_ways(card_module.render(_plan("fraud-detector"), settings, "x.json"))
    assert matter["license"] == "apache-2.0"
    assert matter["language"] == ["en"]


@pytest.mark.parametrize("bad", [{"defaultOwners": ["@x y"]}, {"defaultOwners": ["a#b@c.io"]},
                                 {"specPrefix": "../up"}, {"specPrefix": "a b"}, {"unknown": 1},
                                 {"codeownersPath": "elsewhere/CODEOWNERS"}, {"logRetentionDays": 0}])
def test_settings_refuse_unsafe_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        GovernanceSettings.model_validate(bad)
