"""Declared patches (compiler.language.patch_spec): checked at lint time, applied to the rendered objects.

Lint (a rule, so problems carry the patch's file:line:col): a patch is either `merge:` or `json:`;
JSON-patch operations are well formed; nothing touches a field mlspec's guarantees depend on
(`PROTECTED`); only the strategic-merge directives implemented here are used; a named environment
exists.

Render (`apply_patches`, called once per spec after every target rendered): each patch is applied,
in declaration order, to every rendered object with its kind and name (and environment and stage,
when given: the `<environment>/` and `stages/<stage>/` folders the object was rendered into). A
patch that matches nothing, or whose JSON-patch `test` or path fails, is an error at the patch's
position: it no longer applies, and rendering without it would silently drop what it guaranteed.
The patched bytes are the rendered output, so the manifest's sha256 is theirs and `mlspec drift`
never reports them; the manifest's resource entry records each patch and the field paths it changed
(the paths `mlspec diff` prints), which is how the diff marks changes made by a patch.

Strategic merge is kustomize's (`patches:` in sigs.k8s.io/kustomize/api v0.21.3, judged against it
in tests/test_patches.py): maps merge recursively, `null` deletes a key, `$patch: replace` /
`$patch: delete` on a map, `$patch: delete` on a list item. Lists of the built-in kinds merge by the
`patchMergeKey` tag of k8s.io/api (core/v1 types.go: PodSpec.containers, initContainers,
ephemeralContainers, volumes, imagePullSecrets `name`; Container.env `name`, ports `containerPort`,
volumeMounts `mountPath`, volumeDevices `devicePath`; PodSpec.hostAliases `ip`), the patch's items
first, then the object's others. kustomize has no schema for custom resources (InferenceService,
VirtualService, PrometheusRule): their lists are replaced whole, as kustomize does; a patch that
must add one item to such a list is a JSON patch (`add .../-`).

Length: one module on purpose: matching, the protected-field guard, strategic merge and JSON patch
application share the same identity and field-path rules; split, each would re-derive them.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, cast

import yaml

from compiler.check.rules import rule
from compiler.diagnostics import Diagnostic, Path, Severity
from compiler.language.patch_spec import Patch
from compiler.language.project import Project
from compiler.language.spec import Spec
from compiler.planning.plan import PatchPlan, Plan
from compiler.render.fieldpaths import field_changes, format_path
from compiler.render.serialize import dump_yaml

if TYPE_CHECKING:
    from compiler.pipeline import RunResult, SpecResult

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STAGE = re.compile(r"(?:^|/)stages/([^/]+)/")
_POINTER = re.compile(r"(/([^~/]|~[01])*)*")

# Fields mlspec's guarantees depend on, as JSON-pointer segment patterns (`*` is any one segment, a
# trailing `/` on a segment any key starting with it). A patch may not write them, nor replace or
# delete a map or list that holds them. Per kind, or for every kind under "*".
PROTECTED: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "*": (
        ("apiVersion",), ("kind",),
        ("metadata", "name"), ("metadata", "namespace"),  # identity: what the GitOps engine prunes by
        ("metadata", "labels", "mlspec.dev/"), ("metadata", "annotations", "mlspec.dev/"),  # provenance
    ),
    "InferenceService": (
        # The rollout stage selection: which version takes how much traffic, and how KServe reads it.
        ("spec", "canary"), ("spec", "predictor", "canaryTrafficPercent"),
        ("metadata", "annotations", "serving.kserve.io/deploymentMode"),
    ),
    "VirtualService": (  # the shadow stage: where traffic goes and how much of it is mirrored
        ("spec", "http", "*", "route"), ("spec", "http", "*", "mirror"), ("spec", "http", "*", "mirrorPercentage"),
    ),
}

# k8s.io/api patchMergeKey tags for the lists of the built-in kinds mlspec renders (CronJob pod
# templates, ServiceAccounts, ConfigMaps); keyed by the list's field name, which is unambiguous there.
BUILTIN_MERGE_KEYS: Mapping[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "imagePullSecrets": "name", "env": "name", "ports": "containerPort", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "hostAliases": "ip",
}
_DIRECTIVE = "$patch"
_WRITES = ("add", "remove", "replace", "move", "copy")


class PatchError(Exception):
    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.path = path


# --- lint ----------------------------------------------------------------------------------------


def pointer(text: str) -> tuple[str, ...] | None:
    """The segments of an RFC 6901 JSON pointer, or None when it is not one."""
    if not _POINTER.fullmatch(text):
        return None
    if text == "":
        return ()
    return tuple(s.replace("~1", "/").replace("~0", "~") for s in text[1:].split("/"))


def _segment_matches(pattern: str, segment: str) -> bool:
    if pattern == "*":
        return True
    return segment.startswith(pattern) if pattern.endswith("/") else segment == pattern


def _covers(pattern: tuple[str, ...], path: Sequence[str]) -> bool:
    """`path` is the protected field or inside it."""
    return len(path) >= len(pattern) and all(_segment_matches(p, s) for p, s in zip(pattern, path, strict=False))


def _holds(path: Sequence[str], pattern: tuple[str, ...]) -> bool:
    """`path` is a map or list that contains the protected field (replacing it would drop the field)."""
    return len(path) < len(pattern) and all(_segment_matches(p, s) for p, s in zip(pattern, path, strict=False))


def protected_problem(kind: str, path: Sequence[str], *, replaces: bool) -> str | None:
    """Why writing `path` of a `kind` object is refused, or None. `replaces`: the write replaces or
    deletes the whole value at `path` (not a merge into it)."""
    for pattern in (*PROTECTED["*"], *PROTECTED.get(kind, ())):
        shown = "/" + "/".join(p.replace("/", "~1") + ("*" if p.endswith("/") else "") for p in pattern)
        if _covers(pattern, path):
            return f"{shown} is set by mlspec"
        if replaces and _holds(path, pattern):
            return f"it would replace or delete {shown}, which is set by mlspec"
    return None


_WHY = ("identity, provenance and the rollout stage selection belong to mlspec: the GitOps engine, `mlspec "
        "drift` and the rollout engine rely on them (docs/patches.md lists them)")


@rule
def declared_patches(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    return check_patches(spec.patches, ())


def check_patches(patches: Sequence[Patch], environments: Sequence[str]) -> Iterator[Diagnostic]:
    """Lint findings of `patches` (a spec's or mlspec.yaml's), by path; `environments`: the known ones,
    empty when any is allowed (a spec's are checked by patch_environments)."""
    for i, patch in enumerate(patches):
        base: Path = ("patches", i)
        if (patch.merge is None) == (patch.json_ is None):
            yield Diagnostic("MLS730", "a patch needs exactly one of `merge:` (strategic merge) and `json:` "
                             "(RFC 6902)", path=base, hint="split it into two patches with the same target")
        target = patch.target
        if target.environment is not None and environments and target.environment not in environments:
            yield Diagnostic("MLS734", f"environment {target.environment!r} is not one of the project's "
                             f"environments ({', '.join(environments)})", path=(*base, "target", "environment"),
                             hint="the patch would match nothing; name one of `environments:`")
        if patch.json_ is not None:
            for j, op in enumerate(patch.json_):
                yield from _check_op(target.kind, op.op, op.path, op.from_, "value" in op.model_fields_set,
                                     (*base, "json", j))
        if patch.merge is not None:
            yield from _check_merge(target.kind, patch.merge, (), (*base, "merge"))


@rule
def patch_environments(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    # A rule of its own: with a broken `serving:` section it cannot run, and the others still do.
    if not any(p.target.environment is not None for p in spec.patches):
        return
    environments = list(spec.serving.environments)
    for i, patch in enumerate(spec.patches):
        env = patch.target.environment
        if env is not None and env not in environments:
            yield Diagnostic("MLS734", f"environment {env!r} is not one of this model's environments "
                             f"({', '.join(environments)})", path=("patches", i, "target", "environment"),
                             hint="the patch would match nothing; name an environment under serving.environments")


def _check_op(kind: str, op: str, path: str, from_: str | None, has_value: bool, at: Path) -> Iterator[Diagnostic]:
    segments = pointer(path)
    if segments is None:
        yield Diagnostic("MLS732", f"{path!r} is not a JSON pointer", path=(*at, "path"),
                         hint="RFC 6901: '' or '/'-separated segments, '~1' for '/' and '~0' for '~' in a key, "
                              "e.g. /metadata/annotations/example.com~1owner")
    if op in ("add", "replace", "test") and not has_value:
        yield Diagnostic("MLS732", f"a {op!r} operation needs a `value`", path=at,
                         hint="write `value: null` to set null explicitly")
    if op in ("move", "copy"):
        if from_ is None:
            yield Diagnostic("MLS732", f"a {op!r} operation needs `from`", path=at, hint="the JSON pointer to read")
        elif pointer(from_) is None:
            yield Diagnostic("MLS732", f"{from_!r} is not a JSON pointer", path=(*at, "from"),
                             hint="RFC 6901: '' or '/'-separated segments")
    elif from_ is not None:
        yield Diagnostic("MLS732", f"`from` belongs to move and copy, not {op!r}", path=(*at, "from"),
                         hint="remove it")
    if op not in _WRITES:
        return
    written: list[tuple[str, str, tuple[str, ...] | None]] = [("path", path, segments)]
    if op == "move" and from_ is not None:
        written.append(("from", from_, pointer(from_)))  # a move deletes its source
    for key, text, segs in written:
        if segs is None:
            continue
        last = segs[-1:] == ("-",)  # appending to a list replaces nothing
        problem = protected_problem(kind, segs[:-1] if last else segs, replaces=not last)
        if problem is not None:
            yield Diagnostic("MLS731", f"a patch may not {op} {text or 'the whole object'}: {problem}",
                             path=(*at, key), hint=_WHY)


def _check_merge(kind: str, value: Any, path: tuple[str, ...], at: Path) -> Iterator[Diagnostic]:
    if not isinstance(value, dict):
        return
    directive = value.get(_DIRECTIVE)
    if directive is not None:
        if directive not in ("replace", "delete", "merge"):
            yield Diagnostic("MLS733", f"`$patch: {directive}` is not a strategic-merge directive mlspec applies",
                             path=(*at, _DIRECTIVE), hint="use replace, delete or merge")
        elif directive != "merge" and (problem := protected_problem(kind, path, replaces=True)) is not None:
            yield Diagnostic("MLS731", f"a patch may not {directive} {'/' + '/'.join(path)}: {problem}",
                             path=(*at, _DIRECTIVE), hint=_WHY)
    for key, item in value.items():
        key = str(key)
        if key == _DIRECTIVE:
            continue
        if key.startswith("$"):
            yield Diagnostic("MLS733", f"{key!r} is a strategic-merge directive mlspec does not apply",
                             path=(*at, key), hint="supported: null to delete a key, `$patch: replace|delete`; "
                                                   "or write the change as a JSON patch (`json:`)")
            continue
        here = (*path, key)
        problem = protected_problem(kind, here, replaces=item is None or not isinstance(item, dict))
        if problem is not None:
            yield Diagnostic("MLS731", f"a patch may not {'delete' if item is None else 'set'} "
                             f"{'/' + '/'.join(here)}: {problem}", path=(*at, key), hint=_WHY)
            continue
        if isinstance(item, dict):
            yield from _check_merge(kind, item, here, (*at, key))
        elif isinstance(item, list):
            for n, element in enumerate(item):
                # An item of a merged list: protected patterns address list items by any index (`*`).
                yield from _check_merge(kind, element, (*here, "0"), (*at, key, n))


# --- strategic merge ------------------------------------------------------------------------------


def _builtin(api_version: str) -> bool:
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return "." not in group  # core (v1), apps, batch, ...: k8s.io/api kinds whose merge keys we know


def _merge_key(field: str, dest: list[Any], patch: list[Any], builtin: bool) -> str | None:
    key = BUILTIN_MERGE_KEYS.get(field) if builtin else None
    if key is None or not all(isinstance(i, dict) and key in i for i in [*dest, *patch]):
        return None
    return key


def strategic_merge(dest: Any, patch: Any, *, builtin: bool = False, field: str = "", at: Path = ()) -> Any:
    """`patch` merged into `dest` (neither is modified), kustomize's strategic merge for our kinds."""
    if isinstance(patch, dict):
        directive = patch.get(_DIRECTIVE)
        body = {k: v for k, v in patch.items() if k != _DIRECTIVE}
        if directive == "delete":
            return _DELETE
        if directive == "replace" or not isinstance(dest, dict):
            if dest is not None and not isinstance(dest, dict) and directive != "replace":
                raise PatchError(f"the patch has a map where the object has {_kind(dest)}", at)
            return {k: _clean(v) for k, v in body.items() if v is not None}
        out = dict(dest)
        for key, value in body.items():
            if value is None:
                out.pop(key, None)
                continue
            merged = strategic_merge(out.get(key), value, builtin=builtin, field=str(key), at=(*at, str(key)))
            if merged is _DELETE:
                out.pop(key, None)
            else:
                out[key] = merged
        return out
    if isinstance(patch, list):
        if dest is not None and not isinstance(dest, list):
            raise PatchError(f"the patch has a list where the object has {_kind(dest)}", at)
        dest_list = list(dest or [])
        key = _merge_key(field, dest_list, patch, builtin)
        if key is None:
            return [_clean(v) for v in patch]
        # kustomize's order: the patch's items first, in its order (merged into the object's item with the
        # same key), then the object's other items in theirs.
        existing = {d[key]: d for d in dest_list}
        named = {item[key] for item in patch}
        merged = []
        for n, item in enumerate(patch):
            if item.get(_DIRECTIVE) == "delete":
                continue
            if item[key] in existing:
                merged.append(strategic_merge(existing[item[key]], item, builtin=builtin, field=field, at=(*at, n)))
            else:
                merged.append(_clean(item))
        return merged + [d for d in dest_list if d[key] not in named]
    return copy.deepcopy(patch)


class _Deleted:
    pass


_DELETE: Any = _Deleted()


def _clean(value: Any) -> Any:
    """A patch value set where the object had nothing: directives and nulls have nothing to act on."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != _DIRECTIVE and v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _kind(value: Any) -> str:
    return "a map" if isinstance(value, dict) else "a list" if isinstance(value, list) else f"the value {value!r}"


# --- render ---------------------------------------------------------------------------------------


def _where(rel: str, environments: Sequence[str]) -> tuple[str | None, str | None]:
    """The environment and rollout stage a rendered file belongs to, from the folders it is in."""
    parts = rel.split("/")[:-1]
    env = next((p for p in parts if p in environments), None)
    stage = _STAGE.search(rel)
    return env, stage.group(1) if stage else None


def _matches(patch: PatchPlan, ident: Mapping[str, Any], env: str | None, stage: str | None) -> bool:
    return (ident.get("kind") == patch.kind and ident.get("name") == patch.name
            and (patch.environment is None or patch.environment == env)
            and (patch.stage is None or patch.stage == stage))


def _split(raw: bytes) -> tuple[str, list[Any]]:
    """The generated-file header (kept byte for byte) and the documents of a rendered YAML file."""
    text = raw.decode("utf-8")
    lines = text.splitlines(keepends=True)
    n = 0
    while n < len(lines) and lines[n].startswith("#"):
        n += 1
    return "".join(lines[:n]), list(yaml.load_all("".join(lines[n:]), Loader=_Loader))


def _apply_one(patch: PatchPlan, doc: dict[str, Any]) -> dict[str, Any]:
    if patch.merge is not None:
        merged = strategic_merge(doc, dict(patch.merge), builtin=_builtin(str(doc.get("apiVersion", ""))),
                                 at=("merge",))
        return cast(dict[str, Any], merged)
    import jsonpatch
    import jsonpointer

    out = copy.deepcopy(doc)
    for j, op in enumerate(patch.json or ()):
        try:
            out = jsonpatch.JsonPatch([dict(op)]).apply(out, in_place=True)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise PatchError(f"`test` failed: {exc}", ("json", j)) from exc
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError, IndexError,
                AttributeError, ValueError) as exc:  # python-json-patch lets some of Python's own through
            raise PatchError(f"{op.get('op')} {op.get('path')!r} does not apply: {exc}", ("json", j)) from exc
    if not isinstance(out, dict):
        raise PatchError("the patch replaced the object with something that is not a map", ("json",))
    return out


def apply_patches(result: SpecResult) -> list[Diagnostic]:
    """Apply the plan's declared patches to the rendered files of `result`, in place; problems positioned."""
    plan = result.plan
    if plan is None or not plan.patches:
        return []
    environments = [e.name for e in plan.serving.environments]
    found: list[Diagnostic] = []
    matched: dict[str, list[tuple[int, PatchPlan]]] = {}  # file -> (resource index, patch), in patch order
    for patch in plan.patches:
        hits = 0
        for rel in sorted(result.file_resources):
            env, stage = _where(rel, environments)
            for index, ident in enumerate(result.file_resources[rel]):
                if _matches(patch, ident, env, stage):
                    matched.setdefault(rel, []).append((index, patch))
                    hits += 1
        if not hits and not patch.origin:
            # A project patch applies to the models that render its target; only a spec's own is an error.
            found.append(_no_target(patch, result, environments))
    for rel, work in sorted(matched.items()):
        header, docs = _split(result.files[rel])
        resources = [d for d in docs if isinstance(d, dict) and "apiVersion" in d and "kind" in d]
        records: dict[int, list[dict[str, Any]]] = {}
        failed = False
        for index, patch in work:
            before = resources[index]
            try:
                after = _apply_one(patch, before)
            except PatchError as exc:
                found.append(Diagnostic("MLS736", f"patch no longer applies to {patch.kind} {patch.name} in {rel}: "
                                        f"{exc}", path=("patches", patch.index, *exc.path), file=patch.origin,
                                        hint="the rendered object changed under the patch: update or remove it "
                                             "(see it with `mlspec render --out -`)"))
                failed = True
                continue
            changed = sorted({format_path(p) for _, p, _, _ in field_changes(before, after)})
            resources[index] = after
            records.setdefault(index, []).append({
                "source": patch.origin or result.rel_path, "patch": f"patches[{patch.index}]",
                "type": "merge" if patch.merge is not None else "json",
                "content": _jsonable(patch), "fields": changed})
        if failed:
            continue
        position = iter(resources)
        docs = [next(position) if isinstance(d, dict) and "apiVersion" in d and "kind" in d else d for d in docs]
        result.files[rel] = (header + dump_yaml(docs)).encode("utf-8")
        for index, entries in records.items():
            # The manifest keeps the patches with the identity of the object they changed.
            cast(dict[str, Any], result.file_resources[rel][index])["patches"] = entries
    return _placed(found, result, plan)


def _jsonable(patch: PatchPlan) -> Any:
    return dict(patch.merge) if patch.merge is not None else [dict(op) for op in patch.json or ()]


def _no_target(patch: PatchPlan, result: SpecResult, environments: Sequence[str]) -> Diagnostic:
    same_kind = sorted({(i.get("name", ""), *_where(rel, environments)) for rel, ids in result.file_resources.items()
                        for i in ids if i.get("kind") == patch.kind}, key=lambda t: tuple(x or "" for x in t))
    where = "".join(f" in environment {patch.environment!r}" if patch.environment else "")
    where += f" at stage {patch.stage!r}" if patch.stage else ""
    if not same_kind:
        # No object of the kind at all: the target that renders it may be disabled (or rendered alone),
        # or the kind is misspelt. Only the user can tell, so this one is a warning.
        return Diagnostic("MLS737", f"patch target {patch.kind} {patch.name}{where}: nothing of kind {patch.kind} "
                          "is rendered for this model, so the patch is not applied", severity=Severity.WARNING,
                          path=("patches", patch.index, "target", "kind"),
                          hint="check the kind's spelling (`mlspec render --out -` lists what is rendered) or "
                               "enable the target that renders it")
    hint = "rendered " + patch.kind + ": " + ", ".join(
        n + (f" ({e}{'/' + s if s else ''})" if e else "") for n, e, s in same_kind[:8])
    return Diagnostic("MLS735", f"patch target {patch.kind} {patch.name}{where} is not rendered: the patch no "
                      "longer applies", path=("patches", patch.index, "target"), hint=hint)


def _placed(found: list[Diagnostic], result: SpecResult, plan: Plan) -> list[Diagnostic]:
    """Positions for render-time problems: in the spec, or in mlspec.yaml for the project's patches.

    Rendering sees the plan, not the source map; re-reading the file costs nothing on the happy path
    (only failures get here). A spec is used only when its sha256 is the one rendered.
    """
    if not found:
        return found
    from compiler.language.project import PROJECT_FILE

    spec_path = FsPath(result.file)
    out = []
    for diag in found:
        if diag.file == PROJECT_FILE:
            resolved = spec_path.resolve().as_posix()
            root = resolved[:-len(result.rel_path)] if resolved.endswith("/" + result.rel_path) else None
            placed = _place(diag, FsPath(root) / PROJECT_FILE, None) if root else None
        else:
            placed = _place(diag, spec_path, plan.provenance.source_sha256)
        out.append(placed or diag)
    return out


def _place(diag: Diagnostic, path: FsPath, sha256: str | None) -> Diagnostic | None:
    import os

    from compiler.language.yamlsource import load_document

    try:
        raw = path.read_bytes()
    except OSError:
        return None
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        return None
    try:
        shown = os.path.relpath(path)
    except ValueError:
        shown = path.as_posix()
    doc, _ = load_document(raw, shown)
    return None if doc is None else doc.source.place(diag)


def patched_fields(result: RunResult) -> dict[tuple[str, str, str], list[tuple[str, str]]]:
    """(file, kind, name) -> (field path, `spec patches[i]`) for every field a declared patch changed."""
    out: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for spec in result.specs:
        for rel, idents in spec.file_resources.items():
            for ident in idents:
                for record in cast(Mapping[str, Any], ident).get("patches") or ():
                    label = f"{record['source']} {record['patch']}"
                    out.setdefault((rel, ident["kind"], ident["name"]), []).extend(
                        (field, label) for field in record["fields"])
    return out
