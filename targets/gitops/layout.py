"""What the other targets rendered, seen as a GitOps engine sees it: manifest folders, kustomizations, apps.

The gitops target never imports another target. It reads the rendered tree (paths and bytes, handed to
`render_repository`) and classifies every YAML file: Kubernetes objects, kustomizations, or something an
engine must not apply (Prometheus rule files, promtool tests, pipeline IR, workflows, mlspec's own
settings files). Folder conventions come from the tree: `models/<model>/<target>/<environment>/...`
belongs to that environment's app, `models/<model>/<target>/` (no environment) to a per-target app.
"""

from __future__ import annotations

import bisect
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from compiler.planning.plan import Plan
from compiler.render.memo import cached, file_digest

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
KUSTOMIZATION = "kustomization.yaml"
KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
# Kubernetes API groups without a dot; every other served group is a DNS subdomain (`mlspec/v1` is not).
_DOTLESS_GROUPS = frozenset({"", "apps", "batch", "policy", "autoscaling", "extensions"})
# Every Kubernetes object document has a top-level `kind:` line; rule files, promtool tests, pipeline
# IR and workflows do not, and skipping their parse keeps this target's cost small next to rendering.
_TOP_LEVEL_KIND = re.compile(rb"(?m)^kind:[ \t]")


def is_kubernetes_object(doc: Any) -> bool:
    if not isinstance(doc, Mapping):
        return False
    api, kind, meta = doc.get("apiVersion"), doc.get("kind"), doc.get("metadata")
    if not (isinstance(api, str) and isinstance(kind, str) and isinstance(meta, Mapping)):
        return False
    group = api.rpartition("/")[0]
    return group in _DOTLESS_GROUPS or "." in group


def is_kustomization(doc: Any) -> bool:
    return (isinstance(doc, Mapping) and doc.get("kind") == "Kustomization"
            and str(doc.get("apiVersion", "")).startswith(KUSTOMIZE_GROUP + "/"))


def load_yaml(data: bytes) -> list[Any] | None:
    try:
        return [d for d in yaml.load_all(data, Loader=_Loader) if d is not None]
    except yaml.YAMLError:
        return None


@dataclass(slots=True)
class Tree:
    """The rendered files an engine could apply, by folder."""

    manifests: dict[str, list[Any]] = field(default_factory=dict)  # file -> its Kubernetes objects
    kustomizations: dict[str, Any] = field(default_factory=dict)  # folder -> its kustomization
    _sorted: list[str] | None = None

    def sorted_paths(self) -> list[str]:
        if self._sorted is None or len(self._sorted) != len(self.manifests):
            self._sorted = sorted(self.manifests)
        return self._sorted

    def manifest_dirs(self) -> set[str]:
        return {posixpath.dirname(p) for p in self.manifests}


def _skeleton(doc: Mapping[str, Any]) -> dict[str, Any]:
    """What this target reads of an object (kind, group, namespace): small to keep and to cache."""
    namespace = doc["metadata"].get("namespace")
    return {"apiVersion": doc["apiVersion"], "kind": doc["kind"],
            "metadata": {} if namespace is None else {"namespace": namespace}}


def classify(data: bytes, kustomization_file: bool) -> tuple[str, Any] | None:
    """One file: ("kustomization", doc), ("manifests", object skeletons) or None (not for the engine)."""
    if not _TOP_LEVEL_KIND.search(data):
        return None
    docs = load_yaml(data)
    return classify_documents(docs, kustomization_file) if docs else None


def classify_documents(docs: list[Any], kustomization_file: bool) -> tuple[str, Any] | None:
    """`classify` of a file's documents as read back (None documents left out)."""
    if not docs:
        return None
    if kustomization_file and len(docs) == 1 and is_kustomization(docs[0]):
        return ("kustomization", docs[0])
    if all(is_kubernetes_object(d) and not is_kustomization(d) for d in docs):
        return ("manifests", [_skeleton(d) for d in docs])
    return None


@dataclass(frozen=True, slots=True)
class _Classify:
    rendered: Mapping[str, bytes]
    path: str
    kustomization_file: bool

    def __call__(self) -> tuple[str, Any] | None:
        return classify(self.rendered[self.path], self.kustomization_file)


def classify_namespace(path: str) -> tuple[str, bool]:
    """The memo namespace of a file's classification, and whether it is named like a kustomization."""
    is_kustomization_file = posixpath.basename(path) == KUSTOMIZATION
    return f"gitops.classify.{is_kustomization_file}", is_kustomization_file


def classify_facts(path: str, documents: Sequence[Any]) -> tuple[tuple[str, Any], ...]:
    """`classify` of the bytes the canonical writer makes of a YAML file's `documents`, as a memo entry
    (namespace, value), without writing or reading the bytes; none for data of other types.

    The canonical writer's output reads back as the same plain data (tuples as lists), so the answer is
    the same one `scan` would compute from the bytes.
    """
    if not path.endswith((".yaml", ".yml")):
        return ()
    # Only what `classify` reads of each document, so a 35 KB pipeline is not copied to be looked at.
    views = [_view(d) for d in documents if d is not None]
    if any(d is _UNKNOWN for d in views):
        return ()
    namespace, is_kustomization_file = classify_namespace(path)
    found = classify_documents(views, is_kustomization_file)
    if found is not None and found[0] == "kustomization":
        whole = _plain(next(d for d in documents if d is not None))
        if whole is _UNKNOWN:
            return ()
        found = ("kustomization", whole)
    return ((namespace, found),)


def _view(doc: Any) -> Any:
    """The parts of a document `classify` reads (apiVersion, kind, metadata.namespace), as read back."""
    if not isinstance(doc, Mapping):
        return _plain(doc) if type(doc) in _PLAIN_SCALARS else []  # any non-mapping is no object
    view: dict[str, Any] = {}
    for key in ("apiVersion", "kind"):
        if key in doc:
            view[key] = _plain(doc[key])
    if "metadata" in doc:
        meta = doc["metadata"]
        if not isinstance(meta, Mapping):
            view["metadata"] = _plain(meta)
        elif "namespace" in meta:
            namespace = _plain(meta["namespace"])
            if namespace is _UNKNOWN:
                return _UNKNOWN
            view["metadata"] = {"namespace": namespace}
        else:
            view["metadata"] = {}
    return _UNKNOWN if any(v is _UNKNOWN for v in view.values()) else view


class _Unknown:
    pass


_UNKNOWN = _Unknown()
_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """`value` as a YAML reader gives it back from the canonical writer's bytes, or _UNKNOWN."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            key, item = _plain(key), _plain(item)
            if key is _UNKNOWN or item is _UNKNOWN or isinstance(key, dict | list):
                return _UNKNOWN
            out[key] = item
        return out
    if kind is list or kind is tuple:
        items = [_plain(v) for v in value]
        return _UNKNOWN if any(v is _UNKNOWN for v in items) else items
    return _UNKNOWN  # subclasses (enums) and anything else: read the bytes back


def scan(rendered: Mapping[str, bytes]) -> Tree:
    tree = Tree()
    for path in sorted(rendered):
        if not path.endswith((".yaml", ".yml")):
            continue
        namespace, is_kustomization_file = classify_namespace(path)
        # By content: an incremental render parses only the files that changed, and a render none of
        # the files the specs rendered (GitOpsTarget.file_facts classified them from their data).
        found = cached(namespace, file_digest(rendered, path), _Classify(rendered, path, is_kustomization_file))
        if found is None:
            continue
        if found[0] == "kustomization":
            tree.kustomizations[posixpath.dirname(path)] = found[1]
        else:
            tree.manifests[path] = found[1]
    return tree


def _ancestors(folder: str) -> list[str]:
    out = []
    while "/" in folder:
        folder = posixpath.dirname(folder)
        out.append(folder)
    return out


@dataclass(frozen=True, slots=True)
class App:
    """One unit the engine syncs: a model in one environment, or a model's environment-less folder."""

    name: str
    model: str
    team: str
    environment: str | None  # None: an environment-less folder such as models/<m>/kubeflow
    path: str  # the app's own kustomization folder (written by this target)
    bases: tuple[str, ...]  # manifest folders it includes (each holds a kustomization)
    namespace: str  # destination namespace
    objects: tuple[Mapping[str, Any], ...]  # every object it applies (for kinds and namespaces)

    @property
    def namespaces(self) -> tuple[str, ...]:
        found = {str(o["metadata"].get("namespace")) for o in self.objects if o["metadata"].get("namespace")}
        return tuple(sorted(found))


@dataclass(slots=True)
class Layout:
    missing_kustomizations: dict[str, list[str]]  # folder -> manifest files it must list
    apps: list[App]


def _objects_below(tree: Tree, folder: str) -> list[Mapping[str, Any]]:
    """Every object in the folder and below it, selected or not.

    An environment folder selects one rollout stage at a time; the app's kinds, namespaces and sync
    waves must not depend on which, or a rollout commit (which re-renders one spec) would leave the
    project-wide files describing the previous stage.
    """
    paths = tree.sorted_paths()
    prefix = folder + "/"
    start = bisect.bisect_left(paths, prefix)
    found: list[Mapping[str, Any]] = []
    for index in range(start, len(paths)):
        if not paths[index].startswith(prefix):
            break  # sorted: every path under the folder is in one run (was a scan of all paths per app)
        found.extend(tree.manifests[paths[index]])
    return found


def _under(folders: list[str], prefix: str) -> list[str]:
    """The sorted `folders` that start with `prefix`."""
    start = bisect.bisect_left(folders, prefix)
    end = start
    while end < len(folders) and folders[end].startswith(prefix):
        end += 1
    return folders[start:end]


def plan_layout(tree: Tree, plans: Sequence[Plan]) -> Layout:
    kustomized: dict[str, Any] = dict(tree.kustomizations)
    missing: dict[str, list[str]] = {}
    for path in sorted(tree.manifests):
        folder = posixpath.dirname(path)
        if folder in tree.kustomizations:
            continue
        missing.setdefault(folder, []).append(posixpath.basename(path))
    for folder, files in missing.items():
        kustomized[folder] = {"resources": files}
    apps: list[App] = []
    folders = sorted(kustomized)
    for plan in plans:
        prefix = f"models/{plan.name}/"
        envs = {e.name: e.namespace for e in plan.serving.environments}
        # Roots: kustomization folders of this model not nested in another one. A nested one (a rollout
        # stage) is applied only when its parent selects it.
        roots = [f for f in _under(folders, prefix) if not any(a in kustomized for a in _ancestors(f))]
        # (app suffix, environment or "" for a model's environment-less folder of one target) -> bases
        groups: dict[tuple[str, str], list[str]] = {}
        for root in roots:
            parts = root.split("/")
            if len(parts) < 3:
                continue
            env = parts[3] if len(parts) > 3 and parts[3] in envs else ""
            groups.setdefault((env or parts[2], env), []).append(root)
        for (suffix, env), bases in sorted(groups.items()):
            objects = [o for base in bases for o in _objects_below(tree, base)]
            if not objects:
                continue
            environment = env or None
            if environment is not None:
                namespace = envs[environment]
            else:
                found = sorted({str(o["metadata"].get("namespace", "")) for o in objects} - {""})
                namespace = found[0] if found else ""
            apps.append(App(f"{plan.name}-{suffix}", plan.name, plan.team, environment,
                            f"{prefix}gitops/{suffix}", tuple(bases), namespace, tuple(objects)))
    return Layout(missing, apps)


@dataclass(frozen=True, slots=True)
class Tenant:
    """Who an app acts as: a team (its namespaces from mlspec.yaml) or the platform (shared namespaces)."""

    name: str
    namespaces: tuple[str, ...]
    apps: tuple[App, ...]

    @property
    def objects(self) -> list[Mapping[str, Any]]:
        return [o for a in self.apps for o in a.objects]

    def kinds(self) -> list[tuple[str, str]]:
        """(API group, kind) of everything its apps apply, sorted."""
        return sorted({(str(o["apiVersion"]).rpartition("/")[0], str(o["kind"])) for o in self.objects})


def tenants(apps: Sequence[App], policy: Mapping[str, Sequence[str]], platform: str) -> list[Tenant]:
    """Environment apps belong to their team, whose namespaces are the policy's (mlspec.yaml) or, without
    one, the ones its specs use; environment-less apps (pipeline schedules in the platform's namespace)
    belong to `platform`, limited to the namespaces they use."""
    by_team: dict[str, list[App]] = {}
    shared: list[App] = []
    for app in apps:
        (by_team.setdefault(app.team, []) if app.environment else shared).append(app)
    out = [Tenant(team, tuple(sorted(set(policy.get(team) or {a.namespace for a in team_apps}))), tuple(team_apps))
           for team, team_apps in sorted(by_team.items())]
    if shared:
        out.append(Tenant(platform, tuple(sorted({ns for a in shared for ns in a.namespaces})), tuple(shared)))
    return out


def engine_labels(**extra: str) -> dict[str, str]:
    """Labels of the engine's own objects (Argo CD or Flux): managed by mlspec, plus the non-empty `extra`."""
    return {"app.kubernetes.io/managed-by": "mlspec", **{k: v for k, v in extra.items() if v}}


def plural(kind: str) -> str:
    """The resource name Kubernetes derives from a kind (CRDs and built-ins alike for mlspec's kinds)."""
    lower = kind.lower()
    if lower.endswith("y") and lower[-2:-1] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith(("s", "x", "ch", "sh")) else "s")
