"""The library API: load -> validate -> plan -> check -> render. Each CLI verb is a prefix of it.

Length: the library API is the pipeline; its stages (load, validate, plan, check, render, patch,
project-wide files) share one Context and RunResult, and each CLI verb is a prefix of it. The
pieces with their own concepts live elsewhere (partial rules, patches, incremental cache).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from compiler import forked
from compiler.check.rules import run_rules
from compiler.check.storage_uri import pinned_hf_uris  # noqa: F401 (registers the rule with compiler.check.rules)
from compiler.check.text_rules import WATCH, beside_schema_errors, text_problems
from compiler.collector import collector
from compiler.diagnostics import Diagnostic, Severity, has_errors, sort_diagnostics
from compiler.language.project import Project, load_project
from compiler.language.schema_errors import diagnostics_from_validation
from compiler.language.settings_keys import deprecated_keys
from compiler.language.spec import API_VERSION, Spec
from compiler.language.specfiles import PROJECT_FILE, Work, missing_files, run_root, shared_spec_paths, work_items
from compiler.language.yamlsource import Document, load_document, read_source
from compiler.planning.plan import ActiveStage, Plan, build_plan
from compiler.render import memo
from compiler.render.patch_checks import check_patches
from compiler.render.plugins import OutputFile, Registry, Target, discover

if TYPE_CHECKING:
    from compiler.render.lazy_plans import LazyPlans

# Render-only modules (patches, serialize with the YAML emitters, identity) are imported where they are
# used: a lint never needs them, and one spec's cold lint has a start-up budget (tests/test_cold_start.py).

# Below this many specs a process pool costs more than it saves.
PARALLEL_THRESHOLD = 200
# Specs a pool worker renders before sending their results back (compiler.pipeline._run_all).
RENDER_CHUNK = 4
# Specs a lint's process claims at a time (compiler.forked.shared): ~20 ms of work, so the processes finish
# within a chunk of each other (with a thousand specs in eight chunks of ~150 ms, one pool worker sat idle
# for 0.07 s on average at the end of a lint on a shared machine, against 0.01 s with these).
LINT_CHUNK = 16


@dataclass(slots=True)
class Context:
    """Everything shared by all specs of one run: the project, its config and the enabled targets."""

    root: Path
    project: Project
    targets: list[tuple[Target, Any]]  # (target, validated settings), sorted by name
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Per model name and environment: the live rollout stage read from the deployment repository.
    rollout_state: Mapping[str, Mapping[str, ActiveStage]] = field(default_factory=dict)


@dataclass(slots=True)
class SpecResult:
    file: str  # as shown to the user
    rel_path: str  # relative to the project root, posix
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Path -> bytes; after a render into a directory staged them, a view reading them back (compiler.output.staged).
    files: MutableMapping[str, bytes] = field(default_factory=dict)
    file_targets: dict[str, str] = field(default_factory=dict)
    file_resources: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # Where render-time problems point: the spec's first key (render has no source map).
    position: tuple[int, int] = (0, 0)
    # Files reused unchanged from the output tree by an incremental render (compiler.output.incremental): path ->
    # sha256. Their bytes are not held in memory; `files` holds only what this run rendered.
    reused: dict[str, str] = field(default_factory=dict)
    # What targets' render_repository would read back from these files, computed from their data where
    # they were serialized (Target.file_facts): compiler.render.memo entries by (namespace, sha256 of the bytes).
    facts: dict[tuple[str, str], Any] = field(default_factory=dict)
    # Each target's share of the project-wide files, by target name (Target.project_part): computed
    # where the spec renders and cached with it, so the project-wide files need not redo it.
    parts: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunResult:
    context: Context
    specs: list[SpecResult]
    project_files: dict[str, bytes] = field(default_factory=dict)
    project_file_targets: dict[str, str] = field(default_factory=dict)
    project_file_resources: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    extra: list[Diagnostic] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        found = [*self.context.diagnostics, *self.extra]
        for spec in self.specs:
            found.extend(spec.diagnostics)
        return sort_diagnostics(found)

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)

    def files(self) -> dict[str, bytes]:
        out = dict(self.project_files)
        for spec in self.specs:
            out.update(spec.files)
        return out


def make_context(root: Path, registry: Registry | None = None) -> Context:
    project, doc, problems = load_project(root)
    if project.patches and doc is not None:  # checked here, not in the language layer: patches are a render concern
        problems = [*problems, *(doc.source.place(d) for d in check_patches(project.patches, project.environments))]
    registry = registry if registry is not None else discover()
    diagnostics = [*problems, *registry.problems]
    targets: list[tuple[Target, Any]] = []
    for name in sorted(project.targets):
        if name not in registry.targets:
            position = doc.source.locate(("targets", name), at_key=True) if doc else (0, 0)
            diagnostics.append(Diagnostic(
                "MLS401", f"target {name!r} is not installed", path=("targets", name),
                file=doc.file if doc else PROJECT_FILE,
                line=position[0], col=position[1], hint="installed: " + ", ".join(registry.names())))
    for name in registry.names():
        if not project.target_enabled(name):
            continue
        target = registry.targets[name]
        try:
            settings = target.settings_model.model_validate(project.target_settings(name))
        except ValidationError as exc:
            if doc is None:
                raise
            for diag in diagnostics_from_validation(exc, _subdocument(doc, ("targets", name)), target.settings_model):
                diagnostics.append(diag)
            continue
        targets.append((target, settings))
        for path, old, new in deprecated_keys(target.settings_model, project.target_settings(name),
                                              ("targets", name)):
            line, col = doc.source.locate(path, at_key=True) if doc else (0, 0)
            diagnostics.append(Diagnostic(
                "MLS620", f"{old!r} is the old spelling of {new!r}", severity=Severity.WARNING, path=path,
                file=doc.file if doc else PROJECT_FILE, line=line, col=col,
                hint=f"rename it to {new}: mlspec.yaml keys are camelCase, like Kubernetes'"))
    return Context(root, project, targets, diagnostics)


def _subdocument(doc: Document, prefix: tuple[str, ...]) -> Document:
    """A view of part of a document whose source map still answers with positions in the whole file."""
    data: Any = doc.data
    for part in prefix:
        data = data.get(part, {}) if isinstance(data, dict) else {}
    return Document(doc.file, data, doc.source.within(prefix), doc.sha256)


def check_spec(raw: bytes, file: str, rel_path: str, context: Context, digests: bool = True) -> SpecResult:
    """Load, validate and plan one spec; run every target's checks on the plan.

    `digests=False`: the plan is only checked, then dropped (compiler.planning.plan.build_plan)."""
    result = SpecResult(file=file, rel_path=rel_path)
    doc, problems = load_document(raw, file, WATCH)  # the string rules' strings are found as it builds
    result.diagnostics.extend(problems)
    if doc is None:
        return result
    result.position = doc.source.locate(())
    header = _header_problems(doc)
    if header:
        result.diagnostics.extend(header)
        return result
    # Every string as loaded, whether or not the spec validates: no credential hides behind a typo.
    text = [doc.source.place(d) for d in text_problems(doc.data, doc.watched)]
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        from compiler.check.partial import rules_on_valid_sections

        schema = diagnostics_from_validation(exc, doc, Spec)
        result.diagnostics.extend(schema)
        # All problems in one run: the rules still judge every section that is valid.
        result.diagnostics.extend(beside_schema_errors(text, schema))
        result.diagnostics.extend(doc.source.place(d) for d in rules_on_valid_sections(doc.data, exc, context.project))
        return result
    result.diagnostics.extend(text)
    found = run_rules(spec, context.project)
    result.diagnostics.extend(doc.source.place(d) for d in found)
    if has_errors(result.diagnostics):
        return result
    plan = with_rollout_state(
        build_plan(spec, context.project, spec_path=rel_path, source_sha256=doc.sha256, spec_data=doc.data,
                   digests=digests),
        context.rollout_state)
    result.plan = plan
    for target, settings in context.targets:
        for diag in _guard(target, "check", lambda t=target, s=settings: list(t.check(plan, s))):
            result.diagnostics.append(diag if diag.line else doc.source.place(diag))
    return result


def with_rollout_state(plan: Plan, state: Mapping[str, Mapping[str, ActiveStage]]) -> Plan:
    """The plan with its rollout's live stage from `state`, when the entry is for this model version.

    An entry for another version is ignored, so a new model version starts at the first stage without
    anyone resetting the state, and a stale entry can never promote an unreviewed version.
    """
    rollout = plan.rollout
    if rollout is None:
        return plan
    chosen = state.get(plan.name, {}).get(rollout.environment)
    if chosen is None or chosen.version != plan.model.version:
        return plan
    return dataclasses.replace(plan, rollout=dataclasses.replace(rollout, active_stage=chosen.stage))


def _header_problems(doc: Document) -> list[Diagnostic]:
    api = doc.data.get("apiVersion")
    kind = doc.data.get("kind")
    out = []
    if api != API_VERSION:
        line, col = doc.source.locate(("apiVersion",))
        message = "missing apiVersion" if api is None else f"unknown apiVersion {api!r}"
        out.append(Diagnostic("MLS011", message, path=("apiVersion",), file=doc.file, line=line, col=col,
                              hint=f"this compiler reads apiVersion: {API_VERSION}"))
    if kind != "Model":
        line, col = doc.source.locate(("kind",))
        message = "missing kind" if kind is None else f"unknown kind {kind!r}"
        out.append(Diagnostic("MLS012", message, path=("kind",), file=doc.file, line=line, col=col,
                              hint="a spec file has kind: Model (mlspec.yaml has kind: Project)"))
    return out


def _guard(target: Target, phase: str, call: Any) -> list[Any]:
    """Run target code; an exception there is the target's bug, reported as a diagnostic, not a traceback."""
    try:
        return list(call())
    except Exception as exc:
        return [Diagnostic("MLS504", f"target {target.name!r} failed in {phase}: {type(exc).__name__}: {exc}",
                           hint="this is a bug in the target; please report it with the spec")]


def render_spec(result: SpecResult, context: Context) -> None:
    """Render every enabled target for a checked spec into `result.files` (in memory)."""
    plan = result.plan
    if plan is None or has_errors(result.diagnostics):
        return
    found: list[Diagnostic] = []
    readers = [t for t, _ in context.targets if type(t).file_facts is not Target.file_facts]  # once per spec
    if not isinstance(result.files, memo.HashedFiles):  # each file's digest computed once, wherever asked
        files, result.files = result.files, memo.HashedFiles()
        result.files.update(files)
    for target, settings in context.targets:
        outputs = _guard(target, "render", lambda t=target, s=settings: list(t.render(plan, s)))
        _collect(outputs, target, (plan.provenance.spec_path,), result.files, result.file_targets,
                 found, result.file, result.file_resources, facts=(readers, result.facts))
    from compiler.render.patches import apply_patches

    found.extend(apply_patches(result))  # declared patches (compiler.render.patches), after every target rendered
    if not has_errors(found):
        _project_parts(result, plan, context)
    # A render failure names the spec it happened on (not `<input>`), at the spec's first line.
    result.diagnostics.extend(d if d.line else d.at(d.file or result.file, *result.position) for d in found)


def sharers(targets: Iterable[tuple[Target, Any]]) -> list[tuple[Target, Any]]:
    """The targets that build their project-wide files from per-spec parts (Target.project_part)."""
    return [(t, s) for t, s in targets if type(t).project_part is not Target.project_part]


def _project_parts(result: SpecResult, plan: Plan, context: Context) -> None:
    chosen = sharers(context.targets)
    if not chosen:
        return
    with memo.preloaded(result.facts):  # what a part reads of the spec's files is known from their data
        for target, settings in chosen:
            found = _guard(target, "project_part",
                           lambda t=target, s=settings: [t.project_part(plan, s, result.files)])
            if found and isinstance(found[0], Diagnostic):
                result.diagnostics.append(found[0].at(found[0].file or result.file, *result.position))
            elif found and found[0] is not None:
                result.parts[target.name] = found[0]


def _collect(outputs: Iterable[Any], target: Target, sources: tuple[str, ...], files: MutableMapping[str, bytes],
             owners: dict[str, str], diagnostics: list[Diagnostic], file: str,
             resources: dict[str, list[dict[str, str]]], memoize: bool = False,
             facts: tuple[list[Target], dict[tuple[str, str], Any]] | None = None) -> None:
    from compiler.render.canonical_yaml import reusing
    from compiler.render.identity import identities
    from compiler.render.serialize import header_lines, safe_relpath, serialize

    # Every output is built before the first is serialized (a generator would run in between), so a
    # document written whole and again inside a later one is written once (canonical_yaml.reusing).
    outputs = list(outputs)
    with reusing():
        header: list[str] | None = None
        for output in outputs:
            if isinstance(output, Diagnostic):
                diagnostics.append(output)
                continue
            if not isinstance(output, OutputFile):
                diagnostics.append(Diagnostic("MLS504", f"target {target.name!r} returned {type(output).__name__}",
                                              file=file))
                continue
            rel = safe_relpath(output.path)
            if rel is None:
                diagnostics.append(Diagnostic("MLS503", f"target {target.name!r} produced unsafe path {output.path!r}",
                                              file=file))
                continue
            if rel in owners:  # `owners` knows every spec's files too: a project file must not replace one
                diagnostics.append(Diagnostic(
                    "MLS502", f"{rel} is written by both {owners[rel]!r} and {target.name!r}", file=file))
                continue
            try:
                if not memoize:
                    files[rel] = serialize(output, output.sources or sources)
                elif output.sources:
                    files[rel] = serialize_memo(output, output.sources)
                else:
                    # The project's header once per target, not per file: hashing 1,000 spec paths to look
                    # it up again was a tenth of the project-wide files' time.
                    header = header if header is not None else header_lines(sources)
                    files[rel] = serialize_memo(output, sources, header)
            except (ValueError, TypeError) as exc:
                diagnostics.append(Diagnostic("MLS504", f"target {target.name!r} produced unserializable {rel}: {exc}",
                                              file=file))
                continue
            owners[rel] = target.name
            if output.format == "yaml":
                found = identities(output.content)
                if found:
                    resources[rel] = found
                if facts is not None:
                    _file_facts(rel, output.content, files, *facts)


def _file_facts(rel: str, documents: Any, files: Mapping[str, bytes], readers: list[Target],
                into: dict[tuple[str, str], Any]) -> None:
    digest = ""
    for reader in readers:  # targets that override Target.file_facts
        try:
            found = {str(namespace): value for namespace, value in reader.file_facts(rel, documents)}
        except Exception:
            continue  # only a shortcut: render_repository reads the file back (and reports its own failure)
        if not found:
            continue
        digest = digest or memo.file_digest(files, rel)
        into.update(((namespace, digest), value) for namespace, value in found.items())


def run(paths: Sequence[Path] | None = None, *, root: Path | None = None, render: bool = False,
        registry: Registry | None = None, jobs: int | None = None,
        rollout_state: Mapping[str, Mapping[str, ActiveStage]] | None = None, keep_plans: bool = True,
        parallel_threshold: int = PARALLEL_THRESHOLD) -> RunResult:
    """Lint (and with `render=True`, render in memory) the specs under `paths` (default: specs/).

    `rollout_state` (model -> environment -> live stage) comes from the deployment repository being
    rendered into (compiler.ledger.state); without it every rollout renders at its first stage.
    `keep_plans=False` lets a lint drop the plans it does not need (diagnostics only), built without digests.
    `parallel_threshold`: the fewest specs worth a process pool (tests lower it to run the pool path).
    """
    context, work, extra = prepare(paths, root=root, registry=registry, rollout_state=rollout_state)
    results = _run_all(work, context, render, jobs, keep_plans or render, parallel_threshold)
    run_result = RunResult(context, results, extra=[*extra, *_cross_spec_collisions(results)])
    if render and run_result.ok:
        _render_project(run_result)
    return run_result


def prepare(paths: Sequence[Path] | None = None, *, root: Path | None = None, registry: Registry | None = None,
            rollout_state: Mapping[str, Mapping[str, ActiveStage]] | None = None,
            ) -> tuple[Context, list[Work], list[Diagnostic]]:
    """The run's context, the spec files to process, and the diagnostics for named files that are missing."""
    root = run_root(paths, root)
    context = make_context(root, registry)
    if rollout_state:
        context.rollout_state = rollout_state
    work, missing = work_items(paths, root)
    return context, work, [*missing_files(missing), *shared_spec_paths(work)]


def _one(item: tuple[str, str, Path], context: Context, render: bool, keep_plan: bool = True,
         raw: bytes | None = None) -> SpecResult:
    """One spec's result; without `keep_plan` (a lint that reports diagnostics only) its plan is built
    without digests, checked and dropped. `raw`: the file's bytes when the caller has read them."""
    file, rel, path = item
    unreadable = None
    if raw is None:
        raw, unreadable = read_source(path, file)
    if raw is None:
        return SpecResult(file, rel, diagnostics=[unreadable] if unreadable else [])
    result = check_spec(raw, file, rel, context, digests=keep_plan or render)
    if render:
        render_spec(result, context)
    elif not keep_plan:
        result.plan = None  # lint needs only the diagnostics; shipping plans back costs ~30% of the run
    return result


class Sink(Protocol):
    """Where a run's results go as they come (compiler.output.staged.StageEach stages their files)."""

    def rendered(self, result: SpecResult) -> None:
        """In the process that rendered `result` (a pool worker, or this one), before it is sent back."""

    def __call__(self, result: SpecResult) -> None:
        """Here, in input order, as each result arrives."""


_WORKER_CONTEXT: Context | None = None
_WORKER_SINK: Sink | None = None
_WORKER_SOURCES: Mapping[tuple[str, str, Path], bytes] = {}


def _worker(item: tuple[str, str, Path], render: bool, keep_plans: bool) -> SpecResult:
    assert _WORKER_CONTEXT is not None
    result = _one(item, _WORKER_CONTEXT, render, keep_plans, _WORKER_SOURCES.get(item))
    if _WORKER_SINK is not None:
        _WORKER_SINK.rendered(result)
    return result


def _run_all(work: list[tuple[str, str, Path]], context: Context, render: bool, jobs: int | None,
             keep_plans: bool = True, parallel_threshold: int | None = None,
             sink: Sink | None = None, sources: Mapping[tuple[str, str, Path], bytes] | None = None,
             ) -> list[SpecResult]:
    """Every spec's result, in input order. `sink` sees each one as it arrives (before the next is
    rendered or received): a render into a directory stages its files there and drops their bytes.
    `sources`: spec files' bytes the caller has read, by work item (compiler.output.lint_cache keys its
    results by them): checked as they are, not read again (the workers inherit them).

    Above `parallel_threshold` specs and with `jobs` > 1, a render runs in a pool of forked workers, and a
    check (no render) is shared out between this process and jobs - 1 forked children (its results are
    small and wanted only at the end). Before either forks, the first spec runs here: what a spec builds
    on first use (the targets' modules, validators, templates, memos: ~200 ms of CPU for a render) is then
    built once and inherited, not built again in every process. What is alive then lives for the whole
    run: it is frozen while the forked processes work, so their full collections neither scan it nor touch
    its pages (copy-on-write). A caller that froze before (a lint, an incremental render) unfreezes it all
    itself (gc.unfreeze is global)."""
    from compiler import progress

    sources = sources or {}
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    parallel_threshold = PARALLEL_THRESHOLD if parallel_threshold is None else parallel_threshold
    results: list[SpecResult] = []

    def arrived(result: SpecResult, here: bool = True) -> None:
        """`result`, the next in input order: to the sink (and its `rendered` when it was made in this
        process: a pool worker calls that itself), and to the progress."""
        results.append(result)
        if sink is not None:
            if here:
                sink.rendered(result)
            sink(result)
        progress.step(len(results), len(work))

    if jobs <= 1 or len(work) < parallel_threshold or has_errors(context.diagnostics):
        for item in work:
            arrived(_one(item, context, render, keep_plans, sources.get(item)))
        return results
    import multiprocessing
    from functools import partial

    arrived(_one(work[0], context, render, keep_plans, sources.get(work[0])))
    ours = gc.get_freeze_count() == 0
    gc.freeze()
    global _WORKER_CONTEXT, _WORKER_SINK, _WORKER_SOURCES
    _WORKER_CONTEXT = context  # inherited by forked workers: the registry and project load once
    _WORKER_SINK = sink  # and the sink: a staging session open before the fork (compiler.output.staged)
    _WORKER_SOURCES = sources  # and the bytes already read
    try:
        if not render:
            # A check's results are a few diagnostics each, all sent at the end: this process checks a share
            # of the specs beside jobs - 1 forked children instead of waiting on a pool that pickles every
            # task and result as it goes (compiler.forked.shared; ~10% of a lint of 1,000 specs).
            rest = work[1:]
            for result in forked.shared(len(rest), lambda i: _one(rest[i], context, False, keep_plans,
                                                                  sources.get(rest[i])),
                                        jobs, max(1, min(len(rest) // (jobs * 4), LINT_CHUNK))):
                arrived(result)  # nothing rendered: no file for a sink to write where it was made
            return results
        with multiprocessing.get_context("fork").Pool(jobs) as pool, collector(False):
            # The workers forked with the collector as it was; here the results only arrive (no target code
            # runs), and a full pass over them and the cache cost ~0.2 s of a first render, several times.
            # A worker holds a whole chunk's results (and their pickle) before sending it: rendered files are
            # ~240 KB a spec, so a render sends small chunks.
            chunk = max(1, min(len(work) // (jobs * 4), RENDER_CHUNK))
            # imap keeps the input order (determinism) and hands results back as they finish (progress).
            worker = partial(_worker, render=render, keep_plans=keep_plans)
            for result in pool.imap(worker, work[1:], chunksize=chunk):
                arrived(result, here=False)
    finally:
        _WORKER_CONTEXT = _WORKER_SINK = None  # neither outlives its run (the session's tree is gone after it)
        _WORKER_SOURCES = {}
        if ours:
            gc.unfreeze()
    return results


def _render_project(run_result: RunResult, rendered: Mapping[str, bytes] | None = None,
                    lazy: LazyPlans | None = None) -> None:
    """The project-wide files. `rendered` (default: every file in memory) is what `render_repository` reads.
    `lazy`: the plans in name order, unpickled when a target reads one, instead of the specs' own."""
    plans: Sequence[Plan]
    if lazy is None:
        plans = sorted((s.plan for s in run_result.specs if s.plan is not None), key=lambda p: p.name)
        sources = tuple(p.provenance.spec_path for p in plans)
    else:
        plans, sources = lazy, lazy.spec_paths
    for spec in run_result.specs:
        memo.preload(spec.facts)
    owners = {path: target for spec in run_result.specs for path, target in spec.file_targets.items()}
    shared = {t.name for t, _ in sharers(run_result.context.targets)}
    planned = set(sources)  # a reused spec's plan may not be loaded (`lazy`), but its parts are kept
    parts = {name: {s.rel_path: s.parts[name] for s in run_result.specs if s.rel_path in planned and name in s.parts}
             for name in shared}
    for target, settings in run_result.context.targets:
        extra = {"parts": parts[target.name]} if target.name in shared else {}
        outputs = _guard(target, "render_project",
                         lambda t=target, s=settings, x=extra: list(t.render_project(plans, s, **x)))
        _collect(outputs, target, sources, run_result.project_files, owners, run_result.extra, PROJECT_FILE,
                 run_result.project_file_resources, memoize=True)
    rendered = run_result.files() if rendered is None else _Overlay(run_result.project_files, rendered)
    for target, settings in run_result.context.targets:
        extra = {"parts": parts[target.name]} if target.name in shared else {}
        outputs = _guard(target, "render_repository",
                         lambda t=target, s=settings, x=extra: list(t.render_repository(plans, s, rendered, **x)))
        _collect(outputs, target, sources, run_result.project_files, owners, run_result.extra, PROJECT_FILE,
                 run_result.project_file_resources, memoize=True)
    run_result.project_file_targets = {p: owners[p] for p in run_result.project_files}
    # Here, with every spec rendered (and cached with the project files by an incremental render).
    from compiler.render.patches import unmatched_project_patches

    run_result.extra.extend(unmatched_project_patches(run_result.specs, run_result.context))


def _cross_spec_collisions(results: list[SpecResult]) -> list[Diagnostic]:
    owner: dict[str, str] = {}
    found = []
    for result in results:
        for path in [*result.files, *result.reused]:
            if path in owner:
                found.append(Diagnostic("MLS502", f"{path} is rendered from both {owner[path]} and {result.rel_path}",
                                        file=result.file, hint="two specs with the same metadata.name?"))
            else:
                owner[path] = result.rel_path
    return found


class _Overlay(Mapping[str, bytes]):
    """`top` over `base`: the project files just rendered over the per-spec files."""

    def __init__(self, top: Mapping[str, bytes], base: Mapping[str, bytes]) -> None:
        self._top, self._base = top, base

    def __getitem__(self, key: str) -> bytes:
        return self._top[key] if key in self._top else self._base[key]

    def sha256(self, key: str) -> str | None:
        """What `base` knows without reading (compiler.render.memo.file_digest)."""
        known = getattr(self._base, "sha256", None)
        return None if key in self._top or not callable(known) else known(key)

    def __iter__(self) -> Iterator[str]:
        yield from self._top
        yield from (k for k in self._base if k not in self._top)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def serialize_memo(output: OutputFile, sources: tuple[str, ...], header: list[str] | None = None) -> bytes:
    """`serialize`, remembered by the file's data (compiler.render.memo): project-wide files are mostly the same
    from one render to the next (8,000 kustomizations for 1,000 models), and an incremental render
    rebuilds all of them when one spec changed. `repr` of plain data is exact: key order, types, values."""
    from compiler.render.serialize import header_lines, serialize

    header = header_lines(sources) if header is None else header  # `header_lines(sources)`, when given
    # A target that knows what the content is a function of names it (OutputFile.memo_key): a short key
    # instead of the repr of every file's whole content (a tenth of the project-wide phase).
    data = output.content if not output.memo_key else ("memo_key", output.memo_key)
    key = repr((output.path, output.format, output.comment, header, data))
    return memo.cached("serialize", hashlib.sha256(key.encode()).hexdigest(),
                       lambda: serialize(output, sources))
