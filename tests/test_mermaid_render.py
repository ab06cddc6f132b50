"""The model card's diagrams rendered by the real Mermaid (npm) in headless Chromium (Debian), at the
width GitHub gives Markdown content (about 880 px): they must render without error, keep every stage
label, and fit that width unscaled (a diagram wider than the page is shrunk until its text is
unreadable, which is what the old left-to-right rollout diagram did: 3,100 px shrunk to 28 %)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from tools import REPO_ROOT, unavailable

from compiler.planning.plan import Plan
from golden import render_examples
from targets.governance import GovernanceTarget

PAGE_WIDTH = 880
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--virtual-time-budget=30000", "--dump-dom"]


def _tools() -> tuple[str, Path]:
    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("chromium is not installed (apt-get install chromium; .ci/run does)")
    mermaid = REPO_ROOT / ".cache" / "node" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if not mermaid.is_file():
        unavailable("mermaid is not installed (`make test` installs it with npm into .cache/node)")
    return chromium, mermaid


def render(diagrams: list[str], tmp_path: Path) -> list[dict[str, Any]]:
    """Render each diagram in one page; returns per diagram its natural size and its text."""
    chromium, mermaid = _tools()
    blocks = "\n".join(f'<div class="box" style="width:{PAGE_WIDTH}px"><pre class="mermaid">{html.escape(d)}</pre>'
                       "</div>" for d in diagrams)
    page = tmp_path / "diagrams.html"
    page.write_text(f"""<!doctype html><html><body style="margin:0">{blocks}
<script src="{mermaid.as_uri()}"></script>
<script>
mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});
mermaid.run({{querySelector: ".mermaid"}}).then(() => {{
  const found = [...document.querySelectorAll(".box svg")].map(svg => ({{
    width: svg.viewBox.baseVal.width, height: svg.viewBox.baseVal.height,
    nodes: [...svg.querySelectorAll(".node .nodeLabel")].map(e => e.textContent),
    edges: [...svg.querySelectorAll("g.edgeLabel")].map(e => e.textContent).filter(t => t),
    clusters: [...svg.querySelectorAll(".cluster-label .nodeLabel")].map(e => e.textContent)}}));
  document.body.setAttribute("data-result", JSON.stringify(found));
}}).catch(e => document.body.setAttribute("data-error", String(e)));
</script></body></html>""")
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", page.as_uri()],
                            capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    if (error := re.search(r'data-error="([^"]*)"', result.stdout)) is not None:
        raise AssertionError(f"mermaid refused a diagram: {html.unescape(error.group(1))}")
    found = re.search(r'data-result="([^"]*)"', result.stdout)
    assert found is not None, result.stderr[-2000:]
    return list(json.loads(html.unescape(found.group(1))))


def _cards() -> dict[str, str]:
    files = render_examples(GovernanceTarget()).files()
    return {path: data.decode() for path, data in files.items() if path.endswith("/README.md")}


def _mermaid_blocks(markdown: str) -> list[str]:
    """The fenced mermaid blocks as a real CommonMark parser sees them."""
    return [t.content for t in MarkdownIt("commonmark").parse(markdown) if t.type == "fence" and t.info == "mermaid"]


def test_every_card_diagram_renders_and_fits_the_page(tmp_path: Path) -> None:
    cards = _cards()
    diagrams = [(path, block) for path, text in sorted(cards.items()) for block in _mermaid_blocks(text)]
    assert len(diagrams) == 2 * len(cards)
    rendered = render([block for _, block in diagrams], tmp_path)
    assert len(rendered) == len(diagrams)
    for (path, _block), svg in zip(diagrams, rendered, strict=True):
        assert svg["width"] <= PAGE_WIDTH, f"{path}: {svg['width']:.0f} px wide, shrunk to fit {PAGE_WIDTH} px"


def test_rollout_diagram_reads_top_down_with_one_label_per_stage(tmp_path: Path) -> None:
    plans: dict[str, Plan] = {}
    result = render_examples(GovernanceTarget())
    for spec in result.specs:
        assert spec.plan is not None
        plans[spec.plan.name] = spec.plan
    plan = plans["fraud-detector"]
    card = next(text for path, text in _cards().items() if "/fraud-detector/" in path)
    svg = render([_mermaid_blocks(card)[1]], tmp_path)[0]
    assert svg["height"] > svg["width"], "a rollout reads top-down"
    assert plan.rollout is not None
    stage_labels = [n for n in svg["nodes"] if n.startswith(("shadow:", "canary:", "full:"))]
    assert len(stage_labels) == len(plan.rollout.stages) == len(set(stage_labels))
    # no label repeated on every edge: each edge label appears once
    assert len(svg["edges"]) == len(set(svg["edges"])), svg["edges"]
    assert sum(label.startswith("fires:") for label in svg["edges"]) == 1
    assert "production (namespace risk-prod)" in svg["clusters"]
