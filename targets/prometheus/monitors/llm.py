"""`hallucination_rate`, `grounding` and `token_cost`: the LLM judge's and the server's counters
(exporter contract) as ratios over the window, each guarded by its denominator's rate; and
`token_cost`'s `maxPerDay`, the day's spend read from the runtime's own token counters (vLLM's)."""

from __future__ import annotations

from compiler.monitoring.serving_metrics import escaped, series_selector
from compiler.planning.plan import MonitorPlan
from targets.prometheus import contract
from targets.prometheus.context import RuleContext
from targets.prometheus.promql import number, selector
from targets.prometheus.ruleset import Group, Scenario, Series, counter


def hallucination_rate(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    thr, e = m.threshold, ctx.eval_window(m)
    bad_sel = ctx.id_selector(contract.LLM_HALLUCINATIONS)
    all_sel = ctx.id_selector(contract.LLM_EVALUATED)
    rate, low = ctx.ratio_rates()
    ctx.ratio_alert(group, m, record="ml:llm_hallucinations:ratio_rate",
                    numerator=f"(sum(rate({bad_sel}[{m.window}])) or vector(0))",
                    denominator_metric=contract.LLM_EVALUATED, denominator_record="ml:llm_evaluated:rate",
                    op=">", threshold=thr,
                    summary=f"Hallucination rate of {ctx.who()} is above {number(thr * 100)}%",
                    description=f"More than {number(thr * 100)}% of the responses judged over {m.window} "
                                f"were hallucinated.",
                    bad=[Series(bad_sel, counter(rate, e)), Series(all_sel, counter(rate, e))],
                    good=[Series(all_sel, counter(rate, e))],
                    low=[Series(bad_sel, counter(low, e)), Series(all_sel, counter(low, e))])


def grounding(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    thr, e = m.threshold, ctx.eval_window(m)
    sum_sel = ctx.id_selector(contract.LLM_GROUNDING + "_sum")
    count_sel = ctx.id_selector(contract.LLM_GROUNDING + "_count")
    rate, low = ctx.ratio_rates()

    def series(mean: float, scored: float) -> list[Series]:
        return [Series(sum_sel, counter(mean * scored, e)), Series(count_sel, counter(scored, e))]

    ctx.ratio_alert(group, m, record="ml:llm_grounding_score:mean_rate",
                    numerator=f"sum(rate({sum_sel}[{m.window}]))",
                    denominator_metric=contract.LLM_GROUNDING + "_count",
                    denominator_record="ml:llm_grounding_scored:rate", op="<", threshold=thr,
                    summary=f"Mean grounding score of {ctx.who()} is below {number(thr)}",
                    description=f"The mean grounding score of responses over {m.window} fell below "
                                f"{number(thr)}.",
                    bad=series(thr / 2, rate), good=series((1 + thr) / 2, rate), low=series(thr / 2, low))


def token_cost(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    assert m.threshold is not None
    assert m.price_input_per_1k is not None
    assert m.price_output_per_1k is not None
    thr, e, w = m.threshold, ctx.eval_window(m), m.window
    pin, pout, cur = m.price_input_per_1k, m.price_output_per_1k, m.currency or "USD"
    tin = ctx.id_selector(contract.LLM_TOKENS, type="input")
    tout = ctx.id_selector(contract.LLM_TOKENS, type="output")
    req = ctx.id_selector(contract.LLM_REQUESTS)
    numerator = (f"((sum(rate({tin}[{w}])) or vector(0)) * {number(pin / 1000)} + "
                 f"(sum(rate({tout}[{w}])) or vector(0)) * {number(pout / 1000)})")
    rate, low = ctx.ratio_rates()
    per_token = (pin + pout) / 1000 or 1.0
    tokens_bad = 2 * thr / per_token  # tokens of each type per request

    def series(tokens: float, requests: float) -> list[Series]:
        return [Series(tin, counter(tokens * requests, e)), Series(tout, counter(tokens * requests, e)),
                Series(req, counter(requests, e))]

    ctx.ratio_alert(group, m, record="ml:llm_token_cost:per_request_rate", numerator=numerator,
                    denominator_metric=contract.LLM_REQUESTS, denominator_record="ml:llm_requests:rate",
                    op=">", threshold=thr,
                    summary=f"Token cost per request of {ctx.who()} is above {number(thr)} {cur}",
                    description=f"Input and output tokens priced at {number(pin)}/{number(pout)} {cur} per "
                                f"1k cost more than {number(thr)} {cur} per request over {w}.",
                    bad=series(tokens_bad, rate), good=series(tokens_bad / 8, rate),
                    low=series(tokens_bad, low), currency=cur)
    if m.max_cost_per_day is not None and pin + pout > 0:
        daily_budget(ctx, group, m)


def daily_budget(ctx: RuleContext, group: Group, m: MonitorPlan) -> None:
    """`maxPerDay`: the cost of the tokens the runtime itself counted over the last 24 hours. Every pod
    serving the model counts, a shadow's too: mirrored requests spend real tokens. A runtime without
    token counters gets no rule; the target's check reports that (PRM027) instead of a silent budget."""
    assert m.max_cost_per_day is not None
    assert m.price_input_per_1k is not None
    assert m.price_output_per_1k is not None
    tokens = ctx.stack.tokens
    if tokens is None:
        return
    budget, pin, pout, cur = m.max_cost_per_day, m.price_input_per_1k, m.price_output_per_1k, m.currency or "USD"
    day = ctx.scale("1d")
    match = ctx.stack.matchers(ctx.plan.name, ctx.env.namespace)
    # Either spelling of each name (serving_metrics.series_selector; seen live:
    # tests/prometheus/test_rules_live_vllm.py). The scenarios feed one counter in each spelling, so a
    # rule that read only one of them would fail its `fires` scenario.
    read = [series_selector(metric, match) for metric in tokens]
    prompt, generated = selector(tokens[0], match), selector(escaped(tokens[1]), match)
    spent = ctx.record(group, "ml:llm_token_cost:increase1d",
                       f"(sum(increase({read[0]}[{day}])) or vector(0)) * {number(pin / 1000)} + "
                       f"(sum(increase({read[1]}[{day}])) or vector(0)) * {number(pout / 1000)}", currency=cur)
    e = ctx.eval_after(day, m.for_)
    # Tokens per second, each way, that spend twice the budget in a day (the day scaled like the rule's).
    over = 2 * budget * 1000 / ((pin + pout) * max(ctx.eval_after(day, extra=0), 1))

    def series(per_s: float) -> tuple[Series, ...]:
        return (Series(prompt, counter(per_s, e)), Series(generated, counter(per_s, e)))

    ctx.alert(group, m, "DailyBudget", f"{spent} > {number(budget)}",
              f"Token spend of {ctx.who()} is above {number(budget)} {cur} a day",
              f"Prompt and generated tokens counted by {ctx.stack.what}, priced at {number(pin)}/{number(pout)} "
              f"{cur} per 1k, cost more than {number(budget)} {cur} over the last {day}.",
              [Scenario("fires", series(over), e, ({},)), Scenario("healthy", series(over / 8), e, ())],
              carried={"currency": cur})
