"""The exporter contract: series mlspec's rules read that no serving stack provides (docs/metrics.md).

Batch jobs and sidecars export these with the identity labels `model`, `model_version` and
`environment` (the names in the spec), so rules never depend on scrape-time relabelling.
"""

from __future__ import annotations

FEATURE_DRIFT = "ml_feature_drift_score"  # gauge {feature, method}
PREDICTION_DRIFT = "ml_prediction_drift_score"  # gauge {method}
DRIFT_LAST_RUN = "ml_drift_last_run_timestamp_seconds"  # gauge, unix seconds
QUALITY = "ml_quality_metric"  # gauge {metric}
QUALITY_LAST_RUN = "ml_quality_last_run_timestamp_seconds"
FAIRNESS = "ml_fairness_metric"  # gauge {metric, attribute}
FAIRNESS_LAST_RUN = "ml_fairness_last_run_timestamp_seconds"
COST = "ml_inference_cost_total"  # counter {currency}
INFERENCES = "ml_inferences_total"  # counter: inferences the cost was accrued for
INFERENCE_ERRORS = "ml_inference_errors_total"  # counter {model_name}: failures where the runtime counts none
LLM_EVALUATED = "ml_llm_evaluated_responses_total"  # counter: responses the judge scored
LLM_HALLUCINATIONS = "ml_llm_hallucinated_responses_total"  # counter
LLM_GROUNDING = "ml_llm_grounding_score"  # summary: _sum and _count, scores in [0, 1]
LLM_TOKENS = "ml_llm_tokens_total"  # counter {type="input"|"output"}
LLM_REQUESTS = "ml_llm_requests_total"  # counter

IDENTITY = ("model", "model_version", "environment")

# The batch jobs' last-run gauges: a job that stops reporting pages someone (monitors/staleness.py).
# Which monitor kinds each job serves, and which kinds read live traffic, is rules.KINDS's.
LAST_RUN = {"drift": DRIFT_LAST_RUN, "quality": QUALITY_LAST_RUN, "fairness": FAIRNESS_LAST_RUN}

# Serving patterns with live request metrics; batch and edge models have none.
LIVE_PATTERNS = frozenset({"realtime", "streaming"})
