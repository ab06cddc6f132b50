"""`data.featureStore` as the environment of the code that reads features: the training steps, batch
scoring and the model server all get the same three variables, so the code can look the features up in
the store the reviewed spec names instead of a value baked into an image.

Only names travel (provider, project, feature service): credentials stay with the cluster.
"""

from __future__ import annotations

from compiler.planning.plan import Plan

PROVIDER = "MLSPEC_FEATURE_STORE_PROVIDER"
PROJECT = "MLSPEC_FEATURE_STORE_PROJECT"
SERVICE = "MLSPEC_FEATURE_SERVICE"


def feature_store_env(plan: Plan, taken: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """Kubernetes-style `[{name, value}]` for the plan's feature store, none without one. Names in
    `taken` (set explicitly by the spec, e.g. a step's own env) are left to the spec."""
    store = plan.data.feature_store
    if not store:
        return []
    pairs = ((PROVIDER, store["provider"]), (PROJECT, store["project"]), (SERVICE, store["service"]))
    return [{"name": name, "value": value} for name, value in pairs if name not in taken]
