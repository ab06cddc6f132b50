"""vLLM's names in both spellings (compiler.monitoring.serving_metrics.series_selector): Prometheus 3.x
stores prometheus_client's `vllm:x` as is, 2.x as `vllm_x` (docs/metrics.md). The generated promtool
scenarios feed the request counter in one spelling and the histogram buckets (and the generated-token
counter) in the other, so they prove the rules read both: the same rules narrowed to either spelling
alone must fail them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from family import Rendered, prove_generated, render
from tools import require_tool, run_tool

MONITORS = [
    {"name": "latency-p95", "kind": "latency", "quantile": 0.95, "threshold": "2500ms", "for": "10m"},
    {"name": "fast-replies", "kind": "slo", "sli": "latency", "latency": "2500ms", "objective": 95},
    {"name": "token-spend", "kind": "token_cost", "threshold": 0.004, "maxPerDay": 250, "currency": "EUR",
     "pricePer1kTokens": {"input": 0.0002, "output": 0.0006}},
]
BOTH = re.compile(r'\{__name__=~"(vllm:[a-z0-9_]+)\|(vllm_[a-z0-9_]+)", ')


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("vllm-spellings"), MONITORS, base="support-assistant")


def test_rules_read_every_vllm_series_in_both_spellings(rendered: Rendered) -> None:
    exprs = [r["expr"] for r in rendered.rules()]
    assert not [e for e in exprs if re.search(r"(?<![|\"])vllm[:_][a-z0-9_]+\{", e)], "a vLLM name in one spelling"
    read = {m.group(1) for e in exprs for m in BOTH.finditer(e)}
    assert read == {"vllm:e2e_request_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_count",
                    "vllm:prompt_tokens_total", "vllm:generation_tokens_total"}
    prove_generated(rendered)


@pytest.mark.parametrize("spelling", [1, 2], ids=["colon-only", "underscore-only"])
def test_rules_reading_one_spelling_fail_the_scenarios(rendered: Rendered, spelling: int, tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    source = rendered.dir()
    for name in ("rules.yaml", "rules.test.yaml"):
        text = (source / name).read_text()
        if name == "rules.yaml":
            text = BOTH.sub(lambda m: m.group(spelling) + "{", text)
        (tmp_path / name).write_text(text)
    result = run_tool([promtool, "test", "rules", "rules.test.yaml"], cwd=tmp_path)
    assert result.returncode != 0, "scenarios pass for rules that read one spelling only"
    assert "FAILED" in result.stdout + result.stderr
