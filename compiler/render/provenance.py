"""Provenance labels and annotations that every rendered Kubernetes object carries.

Labels hold short, selectable identity (label values are at most 63 characters); annotations hold the
full digests and URIs. One definition here keeps every target's objects traceable the same way.
"""


import re

from compiler.planning.plan import Plan

PREFIX = "mlspec.dev"
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]")


def label_value(text: str) -> str:
    """A valid label value: at most 63 characters, alphanumeric at both ends."""
    value = _LABEL_VALUE.sub("-", text)[:63].strip("-_.")
    return value


def labels(plan: Plan) -> dict[str, str]:
    out = {
        "app.kubernetes.io/name": plan.name,
        "app.kubernetes.io/version": label_value(plan.model.version),
        "app.kubernetes.io/managed-by": "mlspec",
        f"{PREFIX}/model": plan.name,
        f"{PREFIX}/model-version": label_value(plan.model.version),
        f"{PREFIX}/team": plan.team,
        f"{PREFIX}/risk": plan.risk,
        f"{PREFIX}/data-hash": plan.data.short_hash,
        f"{PREFIX}/code-commit": plan.model.code_commit,
    }
    for key, value in plan.labels:
        out.setdefault(key, value)
    return out


def annotations(plan: Plan) -> dict[str, str]:
    prov = plan.provenance
    return {
        f"{PREFIX}/spec": prov.spec_path,
        f"{PREFIX}/spec-digest": f"sha256:{prov.spec_digest}",
        f"{PREFIX}/plan-digest": f"sha256:{plan.digest}",
        f"{PREFIX}/data-hash": prov.data_hash,
        f"{PREFIX}/code-repo": prov.code_repo,
        f"{PREFIX}/code-commit": prov.code_commit,
        f"{PREFIX}/model-uri": plan.model.uri,
        f"{PREFIX}/compiler-version": prov.compiler_version,
    }


def metadata(plan: Plan, name: str, namespace: str | None = None) -> dict[str, object]:
    """`metadata` for a rendered object: name, namespace, provenance labels and annotations."""
    meta: dict[str, object] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = labels(plan)
    meta["annotations"] = annotations(plan)
    return meta
