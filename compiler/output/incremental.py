"""Incremental rendering into a directory: only specs whose inputs changed are planned and rendered.

A spec's result is a function of its bytes and display name, the run's context (compiler and target code,
mlspec.yaml, target settings) and its model's rollout state. The cache stores, per spec, the key of those
inputs and what rendering produced (diagnostics, plan, the manifest entries of its files), and for every
file the `stat` it had when written. A later render into the same directory reuses a spec when its key is
unchanged and every one of its files is still on disk as written (a file whose stat changed is hashed; a
hand-edited or deleted file makes the spec render again). Project-wide files are rendered again from the
cached plans only when some spec changed; `render_repository` then reads unchanged files from the tree.

The cache lives beside the specs (`.mlspec-cache/`, or `$MLSPEC_CACHE_DIR`), never in the deployment
repository, one index per output directory. It is only an accelerator: a missing, unreadable or foreign
cache means a full render, and `tests/test_incremental.py` checks incremental == full, byte for byte.

The pieces: what a cached spec depends on (compiler.output.cache_keys), how the cache is stored
(compiler.output.cache_index), the tree of fresh and reused files (compiler.output.tree_files); the stat-only answer
of an unchanged render (compiler.output.stamp) comes before all of them.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler import __version__
from compiler.collector import collector, spaced
from compiler.diagnostics import has_errors
from compiler.language.specfiles import Work
from compiler.output import cache_index, cache_keys, forked_render, stamp, stat_check
from compiler.output.cache_index import Index, SpecEntry
from compiler.output.manifest import PROJECT_OWNER, entry, file_entry, load_manifest, spec_entry
from compiler.output.staged import StagedFiles
from compiler.output.tree_files import TreeFiles, entry_text, joined_manifest
from compiler.output.writer import MANIFEST
from compiler.pipeline import RunResult, Sink, SpecResult, _cross_spec_collisions, _render_project, _run_all, prepare
from compiler.planning.plan import ActiveStage, Plan
from compiler.render import memo
from compiler.render.lazy_plans import LazyPlans
from compiler.render.plugins import Registry


@dataclass(slots=True)
class Incremental:
    """An incremental render's result: what to write, and what the manifest says."""

    result: RunResult
    files: dict[str, bytes]  # rendered now (per spec and project-wide) plus the manifest
    listed: list[str]  # every file the manifest lists (its `files`), sorted
    reused: int  # files found intact and not rendered again
    rendered_specs: int
    index: Index
    cache: Path
    plans: dict[str, bytes] | None = None  # every spec's pickled plan, when they were all in memory
    previous: set[str] | None = None  # what the manifest on disk lists, when the index knows it
    staged: list[str] = field(default_factory=list)  # rendered now and staged already (compiler.output.staged)
    code: stamp.Code = ([], [])  # the code that ran (stamp.installed_code), for the render stamp


def render_incremental(out: Path, *, registry: Registry | None = None, jobs: int | None = None,
                       rollout_state: Mapping[str, Mapping[str, ActiveStage]] | None = None,
                       _ignore_cache: bool = False, sink: Sink | None = None,
                       ) -> Incremental:
    """Render the project's specs for `out`, rendering again only what changed since the cached render.

    `sink` sees each freshly rendered spec as it arrives (compiler.output.staged stages its files).

    The bookkeeping around rendering (loading the cache, the project-wide files, the manifest) makes
    millions of long-lived objects and no reference cycles: the cycle collector's full passes over them
    were a quarter of a render after one spec changed. It runs while specs render (most target code);
    whatever cycles the project-wide hooks leave are collected once it is back on. What is alive once the
    cache has loaded is left frozen (gc.freeze) for the caller to unfreeze when the run's bookkeeping is
    done (compiler.output.tree): unfrozen any earlier, ~2M objects joined the oldest generation and the
    collector's next full pass over them cost 0.2 s of a first render's stamp.
    """
    with collector(False):
        return _render_incremental(out, registry=registry, jobs=jobs, rollout_state=rollout_state,
                                   ignore_cache=_ignore_cache, sink=sink)


def _render_incremental(out: Path, *, registry: Registry | None, jobs: int | None,
                        rollout_state: Mapping[str, Mapping[str, ActiveStage]] | None,
                        ignore_cache: bool, sink: Sink | None) -> Incremental:
    context, work, extra = prepare(None, registry=registry, rollout_state=rollout_state)
    cache = cache_index.cache_path(context.root, out)
    code = stamp.installed_code(context.targets)
    key = cache_keys.context_key(context, out, code)
    index = Index(key) if ignore_cache else cache_index.load(cache, key)
    state = context.rollout_state
    touched = [False]
    keys: dict[str, str] = {}
    sources: dict[str, stamp.Stat | None] = {}  # a spec file's stat, taken before its bytes were read now
    reused: dict[str, SpecResult] = {}
    todo: list[Work] = []
    unchanged: list[Work] = []  # as cached, if their output files are too
    for item in work:
        shown, rel, path = item
        head = index.heads.get(rel)
        found = stamp.stat_of(str(path))
        if head is not None and found is not None and found == head.source and head.file == shown:
            # As it was when its key was computed (by stat, like the render stamp): not read and hashed again.
            keys[rel] = head.key
        else:
            try:
                raw = path.read_bytes()
            except OSError:
                todo.append(item)  # the normal path reports it as a diagnostic
                continue
            keys[rel], sources[rel] = stamp.spec_key(item, raw), found
        if (head is not None and head.key == keys[rel] and head.name is not None
                and head.state == cache_keys.state_digest(state, head.name)):
            unchanged.append(item)
        else:
            todo.append(item)
    # What is alive now and the cache about to load (~1M objects for 1,000 specs) live for the whole run:
    # frozen, the collector's passes skip them (~30 ms) and forked children do not touch their pages.
    gc.freeze()
    beside = None
    if forked_render.worth_it(todo, jobs, len(unchanged)):
        with collector(True), spaced():  # target code runs here, in the child forked in this state
            beside = forked_render.start(todo, context, sink)
    index = cache_index.load_specs(cache, index)
    listed = _listed(out, index)
    again: list[Work] = []
    if not index.specs and unchanged:  # the cache's shards are gone or torn: these render after all
        again, unchanged = unchanged, []
    gc.freeze()
    # The unchanged specs' output files are checked by stat (~35k for 1,000 specs) beside the changed specs'
    # render: here while the child renders them, else in a child process while this one renders them; a spec
    # with a file not as recorded is checked here, by its bytes.
    outputs = {item[1]: index.specs[item[1]].result.reused for item in unchanged}
    # Target code runs here (or in forked children), with the youngest generation spaced as in a lint.
    with collector(True), spaced():
        if beside is not None:
            suspects = stat_check.changed(out, outputs, index.stats)
            fresh = {r.rel_path: r for r in beside()}
        else:
            differ = stat_check.start(out, outputs, index.stats) if todo and stat_check.worth_it(outputs) else None
            fresh = {r.rel_path: r for r in _run_all(todo, context, True, jobs, sink=sink)} if todo else {}
            suspects = differ() if differ is not None else set(outputs)
    for item in unchanged:
        rel = item[1]
        if rel not in suspects or cache_keys.intact(out, outputs[rel], index.stats, touched):
            reused[rel] = index.specs[rel].result
        else:
            again.append(item)
    if again:
        with collector(True), spaced():
            fresh.update((r.rel_path, r) for r in _run_all(again, context, True, jobs, sink=sink))
    specs = [reused.get(rel) or fresh[rel] for _, rel, _ in work]
    result = RunResult(context, specs, extra=[*extra, *_cross_spec_collisions(specs)])
    files: dict[str, bytes] = {}
    if not result.ok:
        return Incremental(result, files, [], 0, len(fresh), index, cache, code=code)
    states = sorted((n, cache_keys.state_digest(state, n)) for n in state)
    project_key = _key(_project_inputs(specs, reused, keys, index), states)
    shares = {rel: _shares_digest(spec) for rel, spec in fresh.items() if spec.plan is not None}
    shares_key = _key(_share_inputs(specs, reused, keys, index, shares), states)
    plans: dict[str, tuple[Plan | None, bytes]] | None = None
    reused_count = 0
    if (project_key == index.project_key or shares_key == index.shares_key) and cache_keys.intact(
            out, {p: e["sha256"] for p, e in index.project_files.items()}, index.stats, touched):
        if project_key != index.project_key:  # a plan changed, not its shares: the files are as they were
            index.project_key, touched[0] = project_key, True
        result.project_file_targets = dict(index.project_targets)
        result.extra.extend(index.project_diagnostics)
        project_entries = index.project_files
        reused_count += len(project_entries)
    else:
        cache_index.load_cold(cache, index)
        memo.preload(index.memo)
        plans = _all_plans(specs, reused, cache, index)
        if plans is None:  # the plans file is gone or stale: render everything once more
            return render_incremental(out, registry=registry, jobs=jobs, rollout_state=rollout_state,
                                      _ignore_cache=True, sink=sink)
        # The reused specs' parts, file targets and resources (compiler.output.cache_index.whole_result), in
        # copies: the cache keeps its entries light.
        result.specs = specs = [cache_index.whole_result(index.specs[s.rel_path]) if s.rel_path in reused else s
                                for s in specs]
        lazy = None
        if context.project.patches:  # unmatched_project_patches reads every spec's plan
            result.specs = specs = [dataclasses.replace(s, plan=_plan(plans[s.rel_path])) if s.plan is None
                                    and s.rel_path in plans else s for s in specs]
        else:
            lazy = _lazy_plans(specs, plans, index)
        before = len(result.extra)
        tree = TreeFiles(out, specs)
        _render_project(result, tree, lazy)
        index.project_key, index.project_targets = project_key, dict(result.project_file_targets)
        # Built from the shares alone (no plan unpickled, no file's bytes or digest read): the same shares
        # give the same files, whatever else changed in the plans (a description, a label).
        index.shares_key = shares_key if lazy is not None and not lazy.loaded and not tree.read else ""
        index.project_diagnostics = result.extra[before:]
        project_entries = {p: entry(c, result.project_file_targets[p], PROJECT_OWNER,
                                    result.project_file_resources.get(p, []))
                           for p, c in result.project_files.items()}
        previous = index.project_files
        index.project_files = project_entries
        # A project file's entry is mostly as it was: keep its manifest text (compiler.output.tree_files).
        old_texts = index.project_texts
        index.project_texts = {p: old_texts[p] if p in old_texts and previous.get(p) == e else entry_text(p, e)
                               for p, e in project_entries.items()}
        for rel_file, content in result.project_files.items():
            # Most project files come out as they were: leave those alone, unread (like reused specs).
            old = previous.get(rel_file)
            if old is not None and old["sha256"] == project_entries[rel_file]["sha256"] and cache_keys.intact(
                    out, {rel_file: old["sha256"]}, index.stats, touched):
                reused_count += 1
            else:
                files[rel_file] = content
        touched[0] = True
    new_specs: dict[str, SpecEntry] = {}
    staged: list[str] = []
    for spec in specs:
        if spec.plan is None and spec.rel_path not in reused:
            continue
        if spec.rel_path in reused:
            cached = index.specs[spec.rel_path]
            reused_count += len(cached.texts)
            if spec.rel_path in sources and sources[spec.rel_path] != cached.source:  # touched, or a new key
                cached = dataclasses.replace(cached, source=sources[spec.rel_path])
                touched[0] = True
        else:
            assert spec.plan is not None
            entries = {p: file_entry(memo.file_digest(spec.files, p), spec.file_targets[p], spec.rel_path,
                                     spec.file_resources.get(p, [])) for p in spec.files}
            light, project_data = cache_index.light_result(spec, {p: e["sha256"] for p, e in entries.items()})
            manifest_entry = spec_entry(spec.plan)
            cached = SpecEntry(keys.get(spec.rel_path, ""), spec.plan.name,
                               cache_keys.state_digest(state, spec.plan.name), light, manifest_entry,
                               {p: entry_text(p, e) for p, e in entries.items()},
                               entry_text(spec.rel_path, manifest_entry), shares.get(spec.rel_path, ""),
                               sources.get(spec.rel_path), project_data)
            if isinstance(spec.files, StagedFiles):
                staged.extend(spec.files)
            else:
                files.update(spec.files)
            touched[0] = True
        new_specs[spec.rel_path] = cached
    # The manifest's `files` entries, as texts by path (a project file's over a spec's, though both is MLS502).
    texts: dict[str, str] = {}
    for cached in new_specs.values():
        texts.update(cached.texts)
    texts.update(index.project_texts)
    listed_now = sorted(texts)
    if set(new_specs) != set(index.specs):
        touched[0] = True
    index.specs = new_specs
    index.touched = touched[0]
    if not fresh and index.cold_loaded is False and _manifest_ours(out, index):
        # Nothing rendered and the manifest on disk is the one last written: it is what we would write.
        return Incremental(result, files, listed_now, reused_count + 1, 0, index, cache, None, listed, staged, code)
    if plans is not None:  # the project-wide files rendered (the memo loaded): keep what they used
        index.memo = memo.used()
    text = joined_manifest(__version__, [texts[p] for p in listed_now],
                           [new_specs[rel].spec_text for rel in sorted(new_specs)]).encode()
    index.manifest_written = True
    index.touched = True  # record the manifest's stat, so the next unchanged run need not build it
    files[MANIFEST] = text
    return Incremental(result, files, listed_now, reused_count, len(fresh), index, cache,
                       None if plans is None else {k: v[1] for k, v in plans.items()}, listed, staged, code)


def _project_inputs(specs: list[SpecResult], reused: Mapping[str, SpecResult], keys: Mapping[str, str],
                    index: Index) -> list[tuple[str, str, str]]:
    """What the project-wide files and diagnostics depend on besides the run's context and the rollout state:
    each spec's path, its name as shown and its plan's digest (compiler.planning.plan.plan_digest: the spec's
    data, not its comments or formatting, so a comment edited leaves the project-wide files alone, unbuilt).

    Everything a spec hands the project-wide hooks (its plan, files, shares, file facts) is a function of
    the plan, less its provenance's `source_sha256`, which only the manifest's spec entry and the placing of
    the spec's own diagnostics read. A spec without a plan counts by its key (its bytes), as before.
    """
    found = []
    for spec in specs:
        digest = (spec.plan.digest if spec.plan is not None else index.specs[spec.rel_path].manifest["plan_digest"]
                  if spec.rel_path in reused else "")
        found.append((spec.rel_path, spec.file, digest or keys.get(spec.rel_path, "")))
    return found


def _share_inputs(specs: list[SpecResult], reused: Mapping[str, SpecResult], keys: Mapping[str, str],
                  index: Index, shares: Mapping[str, str]) -> list[tuple[str, str, str, str]]:
    """What the project-wide files depend on when building them read no plan and no file's content: each
    spec's path, name as shown, model name (the plans' order) and shares digest (`_shares_digest`)."""
    found = []
    for spec in specs:
        rel = spec.rel_path
        if spec.plan is not None:
            name, digest = spec.plan.name, shares.get(rel, "")
        elif rel in reused:
            name, digest = index.specs[rel].name or "", index.specs[rel].shares
        else:
            name, digest = "", ""
        found.append((rel, spec.file, name, digest or keys.get(rel, "")))
    return found


def _shares_digest(spec: SpecResult) -> str:
    """A spec's part in the project-wide files besides its plan: its files' paths and targets (which paths
    are taken, where the gitops target looks for folders) and its shares (Target.project_part). Pickled,
    not repr'd: exact for any picklable share; a pickle that orders a set differently only misses."""
    data = pickle.dumps((spec.file_targets, spec.parts), protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.sha256(data).hexdigest()


def _key(inputs: list[Any], states: list[tuple[str, str]]) -> str:
    return hashlib.sha256(repr((inputs, states)).encode()).hexdigest()


def _manifest_ours(out: Path, index: Index) -> bool:
    """The manifest on disk is the one the index's run wrote (or found current), by its stat alone. Another
    stat (touched, checked out again) means it is read or built again: hashing its 12 MB each run to
    recognise it by its bytes cost more than that rare miss."""
    return index.manifest_written and stamp.stat_of(f"{out}/{MANIFEST}") == index.stats.get(MANIFEST)


def _listed(out: Path, index: Index) -> set[str] | None:
    """The files the manifest on disk lists, from the index, when it is the manifest the index wrote:
    parsing it (12 MB of JSON for 1,000 models) was a tenth of a render after one spec changed."""
    if not _manifest_ours(out, index):
        return None
    found = set(index.project_files)
    for cached in index.specs.values():
        found.update(cached.texts)
    return found


def _all_plans(specs: list[SpecResult], reused: Mapping[str, SpecResult], cache: Path,
               index: Index) -> dict[str, tuple[Plan | None, bytes]] | None:
    """Every spec's plan, pickled: the fresh ones from memory (with the plan), the reused ones from the plans
    file (the plan None: `_plan` unpickles it when a target reads it, compiler.render.lazy_plans)."""
    if not cache_index.PLAN_TABLE:
        cache_index.PLAN_TABLE.update(cache_index.plan_classes())
    stored = cache_index.load_plans(cache, index.plans_token) if reused else {}
    plans: dict[str, tuple[Plan | None, bytes]] = {}
    for spec in specs:
        if spec.plan is not None:
            plans[spec.rel_path] = (spec.plan, cache_index.pickle_plan(spec.plan))
        elif spec.rel_path in reused:
            if spec.rel_path not in stored:
                return None
            plans[spec.rel_path] = (None, stored[spec.rel_path])
    return plans


def _plan(found: tuple[Plan | None, bytes]) -> Plan:
    plan, data = found
    if plan is None:
        plan = pickle.loads(data)
        assert isinstance(plan, Plan)
    return plan


def _lazy_plans(specs: list[SpecResult], plans: Mapping[str, tuple[Plan | None, bytes]], index: Index) -> LazyPlans:
    """The plans in name order (as `_render_project` sorts them), named from the index, unpickled when read."""
    def name(spec: SpecResult) -> str:
        return spec.plan.name if spec.plan is not None else index.specs[spec.rel_path].name or ""

    order = sorted((s for s in specs if s.rel_path in plans), key=name)
    return LazyPlans([s.rel_path for s in order], lambda: [_plan(plans[s.rel_path]) for s in order])


def orphans(out: Path, run: Incremental) -> list[str]:
    """Files the previous manifest lists and this one does not; none when the manifest is unchanged."""
    if MANIFEST not in run.files:
        return []
    if run.previous is not None:
        return sorted(run.previous.difference(run.listed))
    previous = load_manifest(out)
    return sorted(set(previous.files).difference(run.listed)) if previous else []


def remember(run: Incremental, out: Path, wrote: bool) -> None:
    """Record what is on disk now (after writing, or a check that found the tree current) for the next run."""
    if has_errors(run.result.diagnostics) or not (wrote or run.index.touched):
        return
    stats = run.index.stats
    live = {*run.listed, MANIFEST}
    for rel in list(stats):
        if rel not in live:
            del stats[rel]
    base = str(out)
    for rel in [*run.files, *run.staged]:  # the manifest too: an unchanged run then skips building it
        found = stamp.stat_of(f"{base}/{rel}")
        if found is None:
            stats.pop(rel, None)
        else:
            stats[rel] = found
    cache_index.save(run.cache, run.index, run.plans)


def plans_of(run: Incremental) -> list[Plan]:
    return [s.plan for s in run.result.specs if s.plan is not None]
