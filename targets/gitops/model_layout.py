"""One model's share of the repository layout (GitOpsTarget.project_part), and the layout built from shares.

A model's folders (`models/<model>/...`) hold only its own spec's files, so the kustomizations missing
there and the model's apps follow from that spec's files alone. Computed where the spec renders and
cached with it, a render after one spec changed no longer classifies 31k files and lays out 1,000 models
again: it lays out the project-wide files and joins the shares.

`layout_from_parts` equals `plan_layout(scan(rendered), plans)` (tests/test_gitops_parts.py) as long as
every file under `models/` is a model's own: a file there that no spec's share counted (a project-wide
file, a spec writing into another model's folder) or a plan without a share makes it answer None, and
the caller lays the whole tree out as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from compiler.planning.plan import Plan
from compiler.render.memo import Within
from targets.gitops.layout import App, Layout, plan_layout, scan

MODELS = "models/"


class ModelLayout(NamedTuple):
    """What one spec's files add to the layout. Plain tuples and dicts: cheap to pickle with the spec."""

    files: int  # how many of the spec's files lie under models/<model>/: anything else there is foreign
    missing: dict[str, list[str]]  # folder -> manifest files, for folders without a kustomization
    apps: tuple[tuple[Any, ...], ...]  # the model's apps, each as App's fields in order
    name: str  # the model's: the layout joins the shares in name order, as the plans come
    spec_path: str  # a diagnostic about the model's apps points at its spec
    policy: tuple[tuple[str, tuple[str, ...]], ...]  # mlspec.yaml's teams and namespaces (the same in every plan)
    digest: str  # of the fields above: the model's project-wide files are remembered by it (OutputFile.memo_key)


def _fields(app: App) -> tuple[Any, ...]:
    return (app.name, app.model, app.team, app.environment, app.path, app.bases, app.namespace, app.objects)


def model_layout(plan: Plan, rendered: Mapping[str, bytes]) -> ModelLayout:
    """The share of `plan`'s model, from its spec's own files (`rendered`)."""
    prefix = f"{MODELS}{plan.name}/"
    own = Within(rendered, prefix)  # a view: the digests `rendered` knows are not computed again
    layout = plan_layout(scan(own), [plan])
    fields = (len(own), layout.missing_kustomizations, tuple(_fields(a) for a in layout.apps),
              plan.name, plan.provenance.spec_path, policy(plan))
    return ModelLayout(*fields, hashlib.sha256(repr(fields).encode()).hexdigest())


def policy(plan: Plan) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((t.name, t.namespaces) for t in plan.project.teams)


def complete(plans: Sequence[Plan], parts: Mapping[str, Any]) -> list[ModelLayout] | None:
    """Every model's share in name order (the plans'), without reading a plan; None when one is missing."""
    if len(parts) != len(plans) or not all(isinstance(v, ModelLayout) for v in parts.values()):
        return None
    return sorted((v for v in parts.values() if isinstance(v, ModelLayout)), key=lambda v: v.name)


def layout_from_parts(rendered: Mapping[str, bytes], plans: Sequence[Plan],
                      parts: Mapping[str, Any]) -> Layout | None:
    """The layout of the whole tree from the models' shares and the other files; None when they do not
    suffice (then `plan_layout(scan(rendered), plans)` is the answer)."""
    shares: dict[str, ModelLayout] = {}
    for part in complete(plans, parts) or []:
        if part.name in shares:
            return None
        shares[part.name] = part
    if not shares and plans:
        return None
    counts = dict.fromkeys(shares, 0)
    others: dict[str, bytes] = {}
    for path in rendered:
        if path.startswith(MODELS):
            name, slash, _ = path[len(MODELS):].partition("/")
            if not slash or name not in counts:
                return None  # under models/ but no model's own folder: a share cannot account for it
            counts[name] += 1
        else:
            others[path] = rendered[path]
    if any(counts[name] != share.files for name, share in shares.items()):
        return None  # something besides the model's own spec wrote into its folders
    # The other files are never under models/, so they add missing kustomizations and no apps.
    layout = plan_layout(scan(others), [])
    for share in shares.values():  # in name order, as the plans come
        layout.missing_kustomizations.update(share.missing)
        layout.apps.extend(App(*fields) for fields in share.apps)
    return layout
