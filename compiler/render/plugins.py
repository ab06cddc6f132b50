"""The target plugin contract and the registry that finds targets through entry points.

A target is a class with a `name`; the core calls `check` (diagnostics on the plan, pointing into the
spec by path) and then `render` (files as data). Aggregate files that depend on every model (a
CODEOWNERS file, an Alertmanager config) come from `render_project`; files about the rendered tree
itself (what a GitOps engine applies) come from `render_repository`. Both may be built from per-spec
parts (`project_part`), computed once per spec where it renders and cached with it, so a render after
one spec changed does not redo every model's share. Built-in targets register through the same
entry-point group as third-party ones, so they get no special treatment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from compiler.diagnostics import Diagnostic
from compiler.planning.plan import Plan

ENTRY_POINT_GROUP = "mlspec.targets"
T = TypeVar("T")


class NoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One rendered file. YAML and JSON content is data; the writer serializes it canonically."""

    path: str  # posix path relative to the output root
    format: Literal["yaml", "json", "text"]
    content: Any  # yaml: a list of documents; json: data; text: str
    # Comment leader for the generated-file header; None when the format has no comments or the
    # content must start at byte 0 (Markdown front matter, JSON).
    comment: str | None = "#"
    sources: tuple[str, ...] = field(default=())  # spec paths; empty means the plan being rendered
    # A project-wide file's content is a function of this key (and its path) alone, across renders: the
    # core remembers its bytes by the key instead of by its whole content. "": by its content.
    memo_key: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class RolloutOutput:
    """How a target renders one model's rollout in one environment: what the rollout engine needs to know."""

    directory: str  # the environment's directory; its git history dates a stage the rollout state never saw
    stages: tuple[str, ...]  # the rendered stage names, in rollout order
    rollback: bool  # a `rollback` form (the previous version takes all traffic) is rendered


@dataclass(frozen=True, slots=True)
class Locations:
    """Output a target declares so the core can find it without knowing the target's layout."""

    rollout: RolloutOutput | None = None
    audit_seed: str | None = None  # a JSON file whose `seed_digest` the audit log chains to


class Target:
    """Base class for targets; subclass and register under the `mlspec.targets` entry-point group."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # Diagnostic codes this target may emit, documented in docs/codes.md.
    codes: ClassVar[Mapping[str, str]] = {}
    settings_model: ClassVar[type[BaseModel]] = NoSettings

    def check(self, plan: Plan, settings: Any) -> Iterable[Diagnostic]:
        """Target-specific rules; diagnostics carry spec paths, the core adds positions."""
        return ()

    def render(self, plan: Plan, settings: Any) -> Iterable[OutputFile | Diagnostic]:
        """This model's files. A diagnostic in the result is reported (at the spec's first line)."""
        raise NotImplementedError

    def render_project(self, plans: Sequence[Plan], settings: Any,
                       parts: Mapping[str, Any] | None = None) -> Iterable[OutputFile]:
        """Files that depend on all models at once. Called with the plans sorted by name.

        Like `render_repository`, a function of the plans' data: an incremental render builds the
        project-wide files again only when a plan's digest changed (compiler.planning.plan.plan_digest), so
        they must not read what the digest leaves out (`provenance.source_sha256`, a comment's bytes); and
        when no target read a plan or a rendered file, only when the `parts` (or the specs' paths) changed.

        `parts` is given to a target that defines `project_part` (see there), and only to such a target.
        """
        return ()

    def project_part(self, plan: Plan, settings: Any, rendered: Mapping[str, bytes]) -> Any:
        """This spec's share of the project-wide files, from this spec alone; None: no share.

        Called where the spec renders (a worker process), after every target rendered it and the
        declared patches applied, with the spec's own files (`rendered`: path -> bytes). The value must
        be picklable plain data and a function of the plan, the settings and those files only: it is
        kept with the spec and cached with it by an incremental render, so a render after one spec
        changed computes it for that spec alone. A target that defines this method is called as
        `render_project(plans, settings, parts=...)` and `render_repository(plans, settings, rendered,
        parts=...)`, `parts` mapping each plan's spec path (`plan.provenance.spec_path`) to its value;
        a plan without an entry (its part failed) must be computed the slow way or not at all. `parts`
        has no key besides the plans' spec paths, so when it has as many entries as there are plans it
        has every plan's, and a target may work from the parts alone (`every_part`): the core then
        passes plans that are unpickled only when read (compiler.render.lazy_plans), and a render after
        one spec changed reads none.
        """
        return None

    def locations(self, plan: Plan, settings: Any, environment: str) -> Locations:
        """Where this target's output for `plan` lives, for the core parts that read it back (rollout)."""
        return Locations()

    def render_repository(self, plans: Sequence[Plan], settings: Any, rendered: Mapping[str, bytes],
                          parts: Mapping[str, Any] | None = None) -> Iterable[OutputFile | Diagnostic]:
        """Files about the rendered repository itself, called last with every file rendered so far.

        `rendered` maps each path the other targets wrote (per model and project-wide) to its bytes.
        A target that wires the repository up for a GitOps engine (kustomizations that reach every
        manifest folder, the engine's own objects) needs to know those folders, and reading them here
        keeps it from importing the targets that wrote them. A diagnostic in the result is reported.
        A file written by `render_project` never has the path of a per-spec file (that is MLS502).
        """
        return ()

    def file_facts(self, path: str, documents: Sequence[Any]) -> Iterable[tuple[str, Any]]:
        """What `render_repository` will compute from a rendered YAML file, computed from its data instead.

        Called where each spec's files are serialized (in the render's worker processes) with the
        documents the file's bytes were written from. Each (namespace, value) is handed to
        `render_repository` through compiler.render.memo under the digest of those bytes, so a value must be
        exactly what the target would compute from the bytes (a file a patch changes gets a new digest,
        and the target computes it from the bytes). Reading 15k files back costs more than rendering them.
        """
        return ()


def every_part(plans: Sequence[Plan], parts: Mapping[str, Any] | None, kind: type[T],
               make: Callable[[Plan], T]) -> list[tuple[str, T]]:
    """(spec path, share) for every plan: from `parts` alone when it holds a `kind` for every plan (then
    `plans`, perhaps loaded lazily, is not read: only its length), else `make(plan)` for the plans without
    one. The order is `parts`' or the plans': a caller that needs an order sorts by what the share holds."""
    if parts is not None and len(parts) == len(plans) and all(isinstance(v, kind) for v in parts.values()):
        return [(path, value) for path, value in parts.items() if isinstance(value, kind)]
    found = parts or {}
    out = []
    for plan in plans:
        value = found.get(plan.provenance.spec_path)
        out.append((plan.provenance.spec_path, value if isinstance(value, kind) else make(plan)))
    return out


@dataclass(slots=True)
class Registry:
    targets: dict[str, Target] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)

    def add(self, target: Target, origin: str = "") -> None:
        if not target.name:
            self.problems.append(Diagnostic("MLS501", f"target from {origin or type(target).__name__} has no name"))
        elif target.name in self.targets:
            self.problems.append(Diagnostic(
                "MLS501", f"two installed targets are named {target.name!r}",
                hint=f"uninstall one of them ({origin or type(target).__module__})"))
        else:
            self.targets[target.name] = target

    def names(self) -> list[str]:
        return sorted(self.targets)


# The installed targets, when a caller says which (an application embedding mlspec, the tests): every
# command path reaches the targets through discover(), so one explicit seam serves them all.
_INSTALLED: ContextVar[Registry | None] = ContextVar("mlspec_installed_targets", default=None)


@contextmanager
def installed_targets(registry: Registry) -> Iterator[Registry]:
    """Within the block, discover() returns `registry` instead of loading the entry points."""
    token = _INSTALLED.set(registry)
    try:
        yield registry
    finally:
        _INSTALLED.reset(token)


def chosen_by_caller() -> bool:
    """installed_targets() is in effect: what the caches know (compiler.output.stamp) is for other targets."""
    return _INSTALLED.get() is not None


def discover() -> Registry:
    """Load every target registered under the entry-point group; a broken one is reported by name."""
    chosen = _INSTALLED.get()
    if chosen is not None:
        return chosen
    from importlib.metadata import entry_points

    registry = Registry()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        try:
            loaded = ep.load()
            target = loaded() if isinstance(loaded, type) else loaded
        except Exception as exc:  # a third-party plugin may fail any way at all
            registry.problems.append(Diagnostic(
                "MLS501", f"target {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}",
                hint="reinstall or remove the plugin; other targets still run"))
            continue
        if not isinstance(target, Target):
            registry.problems.append(Diagnostic("MLS501", f"target {ep.name!r} ({ep.value}) is not a Target"))
            continue
        if target.name != ep.name:
            registry.problems.append(Diagnostic(
                "MLS501", f"entry point {ep.name!r} loads a target named {target.name!r}"))
            continue
        registry.add(target, ep.value)
    return registry
