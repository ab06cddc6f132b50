"""Declared patches (compiler.language.patch_spec) applied to the rendered objects; what lint checks of
them before rendering (well-formed operations, protected fields) is compiler.render.patch_checks.

Render (`apply_patches`, called once per spec after every target rendered): each patch is applied,
in declaration order, to every rendered object with its kind and name (and environment and stage,
when given: the `<environment>/` and `stages/<stage>/` folders the object was rendered into). A
patch that matches nothing, or whose JSON-patch `test` or path fails, is an error at the patch's
position: it no longer applies, and rendering without it would silently drop what it guaranteed
(a project patch only where no model renders its target: `unmatched_project_patches`).
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
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, cast

import yaml

from compiler.diagnostics import Diagnostic, Path, Severity
from compiler.planning.plan import PatchPlan, Plan
from compiler.render.fieldpaths import field_changes, format_path
from compiler.render.patch_checks import DIRECTIVE
from compiler.render.serialize import dump_yaml

if TYPE_CHECKING:
    from compiler.pipeline import Context, RunResult, SpecResult

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STAGE = re.compile(r"(?:^|/)stages/([^/]+)/")

# k8s.io/api patchMergeKey tags for the lists of the built-in kinds mlspec renders (CronJob pod
# templates, ServiceAccounts, ConfigMaps); keyed by the list's field name, which is unambiguous there.
BUILTIN_MERGE_KEYS: Mapping[str, str] = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "imagePullSecrets": "name", "env": "name", "ports": "containerPort", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "hostAliases": "ip",
}


class PatchError(Exception):
    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.path = path


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
        directive = patch.get(DIRECTIVE)
        body = {k: v for k, v in patch.items() if k != DIRECTIVE}
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
            if item.get(DIRECTIVE) == "delete":
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
        return {k: _clean(v) for k, v in value.items() if k != DIRECTIVE and v is not None}
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


def unmatched_project_patches(specs: Sequence[SpecResult], context: Context) -> list[Diagnostic]:
    """A warning at each project patch (mlspec.yaml `patches:`) that matches no rendered object of any model.

    One model without a match is normal (a project patch applies to the models that render its target);
    no model at all means a misspelt kind or name, or a target that no longer exists, and the patch
    silently guarantees nothing. Read from every spec's rendered identities after all specs rendered.
    """
    patches = context.project.patches
    if not patches:
        return []
    matched: set[int] = set()
    names: dict[str, set[str]] = {}  # kind -> names rendered
    for spec in specs:
        plan = spec.plan
        if plan is None:
            continue
        environments = [e.name for e in plan.serving.environments]
        own = [p for p in plan.patches if p.origin]
        for rel, idents in spec.file_resources.items():
            env, stage = _where(rel, environments)
            for ident in idents:
                names.setdefault(ident.get("kind", ""), set()).add(ident.get("name", ""))
                matched.update(p.index for p in own if p.index not in matched and _matches(p, ident, env, stage))
    if not names:
        return []  # nothing rendered (every target disabled): no patch can be judged
    from compiler.language.specfiles import PROJECT_FILE

    found = []
    for index, patch in enumerate(patches):
        if index in matched:
            continue
        target = patch.target
        what = f"{target.kind} {target.name}" if target.name else f"{target.kind} (each model's name)"
        what += f" in environment {target.environment!r}" if target.environment else ""
        what += f" at stage {target.stage!r}" if target.stage else ""
        same_kind = sorted(names.get(target.kind, ()))
        hint = (f"rendered {target.kind}: " + ", ".join(same_kind[:8]) + (", ..." if len(same_kind) > 8 else "")
                if same_kind else "rendered kinds: " + ", ".join(sorted(k for k in names if k)))
        diag = Diagnostic("MLS738", f"project patch target {what} matches no rendered object of any model, so the "
                          "patch is applied nowhere", severity=Severity.WARNING, file=PROJECT_FILE,
                          path=("patches", index, "target"), hint=hint + " (see them with `mlspec render --out -`)")
        found.append(_place(diag, context.root / PROJECT_FILE, None) or diag)
    return found


def _placed(found: list[Diagnostic], result: SpecResult, plan: Plan) -> list[Diagnostic]:
    """Positions for render-time problems: in the spec, or in mlspec.yaml for the project's patches.

    Rendering sees the plan, not the source map; re-reading the file costs nothing on the happy path
    (only failures get here). A spec is used only when its sha256 is the one rendered.
    """
    if not found:
        return found
    from compiler.language.specfiles import PROJECT_FILE

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
