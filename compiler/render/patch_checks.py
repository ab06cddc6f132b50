"""Lint-time checks of declared patches (compiler.language.patch_spec), a spec's or mlspec.yaml's, so each
problem carries the patch's file:line:col before anything is rendered: a patch is either `merge:` or
`json:`; JSON-patch operations are well formed; nothing touches a field mlspec's guarantees depend on
(`PROTECTED`); only the strategic-merge directives compiler.render.patches implements are used; a named
environment exists. Applying the patches to the rendered objects is compiler.render.patches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from compiler.check.rules import rule
from compiler.diagnostics import Diagnostic, Path
from compiler.language.patch_spec import Patch
from compiler.language.project import Project
from compiler.language.spec import Spec

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

DIRECTIVE = "$patch"  # the strategic-merge directive key
_WRITES = ("add", "remove", "replace", "move", "copy")


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
    directive = value.get(DIRECTIVE)
    if directive is not None:
        if directive not in ("replace", "delete", "merge"):
            yield Diagnostic("MLS733", f"`$patch: {directive}` is not a strategic-merge directive mlspec applies",
                             path=(*at, DIRECTIVE), hint="use replace, delete or merge")
        elif directive != "merge" and (problem := protected_problem(kind, path, replaces=True)) is not None:
            yield Diagnostic("MLS731", f"a patch may not {directive} {'/' + '/'.join(path)}: {problem}",
                             path=(*at, DIRECTIVE), hint=_WHY)
    for key, item in value.items():
        key = str(key)
        if key == DIRECTIVE:
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
