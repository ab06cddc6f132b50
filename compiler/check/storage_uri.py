"""Pins in model storage URIs that the rules in compiler/check/rules.py cannot judge by shape alone.

`hf://` is KServe's Hugging Face scheme (kserve_storage `_download_hf`, v0.20.0): exactly
`hf://<owner>/<model>[:<revision>]`; the revision after `:` goes to `snapshot_download(revision=...)`.
Without it the storage initializer downloads the default branch as it is when a pod starts, and a
branch or tag name moves the same way, so the model served changes with no change in git. `@` is not
KServe's syntax: `hf://org/model@<sha>` asks the Hub for a repository named `model@<sha>`.
Only a full 40-hex commit is immutable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.check.rules import rule
from compiler.diagnostics import Diagnostic, Path
from compiler.language.project import Project
from compiler.language.spec import Spec

HF_PREFIX = "hf://"
_COMMIT = re.compile(r"[0-9a-f]{40}")
EXAMPLE_COMMIT = "<40-hex commit>"


def hf_pin_problem(uri: str) -> tuple[str, str] | None:
    """(message, hint) when an `hf://` URI is not pinned to a commit in KServe's syntax, else None."""
    if not uri.startswith(HF_PREFIX):
        return None
    parts = uri[len(HF_PREFIX):].split("/")
    if len(parts) != 2 or not all(parts) or not parts[1].partition(":")[0]:
        return (f"{uri!r} is not KServe's Hugging Face form hf://<owner>/<model>[:<revision>]",
                f"write hf://<owner>/<model>:{EXAMPLE_COMMIT}")
    owner, model_part = parts
    if "@" in model_part:
        model, _, revision = model_part.partition("@")
        return (f"{uri!r}: KServe reads the revision after ':' — with '@' it looks for a repository named "
                f"{owner}/{model_part}",
                f"write hf://{owner}/{model}:{revision if _COMMIT.fullmatch(revision) else EXAMPLE_COMMIT}")
    model, _, revision = model_part.partition(":")
    if not revision:
        return (f"{uri!r} is not pinned: KServe downloads the default branch as it is when a pod starts",
                f"pin the commit: hf://{owner}/{model}:{EXAMPLE_COMMIT}")
    if not _COMMIT.fullmatch(revision):
        return (f"{uri!r} pins revision {revision!r}, a branch or tag that can move; only a commit is immutable",
                f"write hf://{owner}/{model}:{EXAMPLE_COMMIT} (the full commit hash, lowercase)")
    return None


@rule
def pinned_hf_uris(spec: Spec, project: Project) -> Iterator[Diagnostic]:
    model = spec.model
    uris: list[tuple[Path, str]] = [(("model", "uri"), model.uri)]
    if model.previous is not None:
        uris.append((("model", "previous", "uri"), model.previous.uri))
    for path, uri in uris:
        problem = hf_pin_problem(uri)
        if problem is not None:
            yield Diagnostic("MLS260", problem[0], path=path, hint=problem[1])
