"""The LLM family (targets/prometheus/monitors/llm.py): hallucination rate, grounding, token cost."""

from __future__ import annotations

import pytest
from family import Case, Rendered, judge, prove_generated, render

MONITORS = [
    {"name": "hallucinations", "kind": "hallucination_rate", "threshold": "3%", "window": "1h", "for": "10m",
     "severity": "critical", "runbook": "https://runbooks.example.com/hallucinations"},
    {"name": "grounding", "kind": "grounding", "threshold": 0.8, "window": "1h", "for": "10m"},
    {"name": "token-spend", "kind": "token_cost", "threshold": 0.004, "currency": "EUR", "window": "1h",
     "for": "10m", "pricePer1kTokens": {"input": 0.0002, "output": 0.0006}},
]
SCRAPE = 'job="llm-judge", instance="10.0.6.3:9100"'
ID = 'model="support-assistant", model_version="2026.10.1", environment="production"'


def counter(metric: str, per_s: float, labels: str = "") -> dict[str, str]:
    return {f"{metric}{{{SCRAPE}, {ID}{labels}}}": f"0+{per_s * 60:g}x120"}


def judged(evaluated: float, hallucinated: float | None) -> dict[str, str]:
    out = counter("ml_llm_evaluated_responses_total", evaluated)
    if hallucinated is not None:
        out |= counter("ml_llm_hallucinated_responses_total", hallucinated)
    return out


def grounding(mean: float, scored: float) -> dict[str, str]:
    """A prometheus_client Summary: `_sum` and `_count` (and `_created`, which rules must not need)."""
    return {**counter("ml_llm_grounding_score_sum", mean * scored), **counter("ml_llm_grounding_score_count", scored),
            f"ml_llm_grounding_score_created{{{SCRAPE}, {ID}}}": "1.7e9x120"}


def tokens(per_request_in: float, per_request_out: float, requests: float) -> dict[str, str]:
    return {**counter("ml_llm_tokens_total", per_request_in * requests, ', type="input"'),
            **counter("ml_llm_tokens_total", per_request_out * requests, ', type="output"'),
            **counter("ml_llm_requests_total", requests)}


HEALTHY = {**judged(2, 0.02), **grounding(0.9, 2), **tokens(1000, 1000, 2)}  # 1%, 0.9, 0.0008 EUR


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("llm"), MONITORS, base="support-assistant")


def test_generated_scenarios(rendered: Rendered) -> None:
    prove_generated(rendered)
    got = rendered.scenarios()
    assert got["Hallucinations"] == got["Grounding"] == got["TokenSpend"] == ["fires+", "healthy", "low-traffic"]


def test_on_the_judges_and_servers_series(rendered: Rendered) -> None:
    judge(rendered, [
        Case("healthy", HEALTHY, "90m", quiet=["Hallucinations", "Grounding", "TokenSpend"]),
        Case("10% hallucinated", {**HEALTHY, **judged(2, 0.2)}, "90m",
             fires=[("Hallucinations", {"severity": "critical"})], quiet=["Grounding", "TokenSpend"]),
        Case("no response judged hallucinated yet: the counter does not exist, and that is 0%",
             {**HEALTHY, **judged(2, None)}, "90m", quiet=["Hallucinations"]),
        Case("hallucinating, but the judge saw too few responses", {**HEALTHY, **judged(0.05, 0.05)}, "90m",
             quiet=["Hallucinations"]),
        Case("mean grounding 0.5", {**HEALTHY, **grounding(0.5, 2)}, "90m", fires=[("Grounding", {})],
             quiet=["Hallucinations"]),
        Case("0.008 EUR per request (10k tokens each way at 0.0002/0.0006 per 1k)",
             {**HEALTHY, **tokens(10000, 10000, 2)}, "90m", fires=[("TokenSpend", {"currency": "EUR"})]),
        Case("long prompts, short answers: 0.0032 EUR per request",
             {**HEALTHY, **tokens(10000, 2000, 2)}, "90m", quiet=["TokenSpend"]),
    ])


# maxPerDay on vLLM's own token counters (vllm/v1/metrics/loggers.py: Counter vllm:prompt_tokens and
# vllm:generation_tokens, labels model_name and engine; prometheus_client appends `_total`), as a KServe
# LLM pod exposes them after the scrape adds namespace and pod. support-assistant is `kind: llm`.
BUDGET = [{"name": "token-spend", "kind": "token_cost", "threshold": 0.004, "maxPerDay": 250, "currency": "EUR",
           "window": "1h", "pricePer1kTokens": {"input": 0.0002, "output": 0.0006}}]


def vllm_tokens(prompt_per_s: float, generated_per_s: float, *, model: str = "support-assistant",
                namespace: str = "support-ai-prod") -> dict[str, str]:
    scrape = (f'namespace="{namespace}", pod="{model}-kserve-7c9d5-x2x4q", job="vllm", instance="10.0.7.2:8000", '
              f'model_name="{model}", engine="0"')
    return {f"vllm:prompt_tokens_total{{{scrape}}}": f"0+{prompt_per_s * 600:g}x160",
            f"vllm:generation_tokens_total{{{scrape}}}": f"0+{generated_per_s * 600:g}x160"}


@pytest.fixture(scope="module")
def budget(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render(tmp_path_factory.mktemp("llm-budget"), BUDGET, base="support-assistant")


def test_daily_budget_generated_scenarios(budget: Rendered) -> None:
    prove_generated(budget)
    assert budget.scenarios()["TokenSpendDailyBudget"] == ["fires+", "healthy"]


def test_daily_budget_on_vllms_token_counters(budget: Rendered) -> None:
    # 250 EUR a day at 0.0002/0.0006 EUR per 1k tokens: 5000 prompt + 5000 generated tokens a second
    # cost 0.004 EUR/s, 345.6 EUR a day; a tenth of that is 34.56 EUR.
    judge(budget, [
        Case("345.6 EUR over the last day", vllm_tokens(5000, 5000), "26h", interval="10m",
             fires=[("TokenSpendDailyBudget", {"currency": "EUR", "severity": "warning"})]),
        Case("34.6 EUR over the last day", vllm_tokens(500, 500), "26h", interval="10m",
             quiet=["TokenSpendDailyBudget"]),
        Case("another model spends it", vllm_tokens(5000, 5000, model="other-assistant"), "26h",
             interval="10m", quiet=["TokenSpendDailyBudget"]),
        Case("another namespace spends it", vllm_tokens(5000, 5000, namespace="support-ai-staging"), "26h",
             interval="10m", quiet=["TokenSpendDailyBudget"]),
    ], evaluation="10m")
