"""A render into a directory that stages each spec's files as it arrives (compiler.output.writer.staging).

The parent process used to hold every rendered byte (240 MB for 1,000 specs) until the writer ran at
the end. Now each spec's files go to the writer's staging session as soon as the spec comes back from
the pool, and the spec keeps a `StagedFiles` view: paths and digests, bytes read back from the staged
temporaries only when asked (render_repository, through compiler.output.tree_files). The session
commits after the project-wide files and the manifest are staged, or is discarded when anything failed:
the tree sees all of it or none of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from compiler.diagnostics import has_errors
from compiler.output.writer import Staging, fresh_root, staging
from compiler.pipeline import SpecResult
from compiler.render.memo import file_digest


class StagedFiles(MutableMapping[str, bytes]):
    """One spec's files after staging: path -> bytes, read back from the session on demand."""

    def __init__(self, session: Staging, digests: dict[str, str]) -> None:
        self._session = session
        self._digests = digests

    def sha256(self, key: str) -> str | None:
        """Known without reading the file (compiler.render.memo.file_digest)."""
        return self._digests.get(key)

    def __getitem__(self, key: str) -> bytes:
        if key not in self._digests:
            raise KeyError(key)
        return self._session.read(key)

    def __setitem__(self, key: str, value: bytes) -> None:
        raise TypeError(f"{key} is staged already: patches apply before staging (compiler.render.patches)")

    def __delitem__(self, key: str) -> None:
        raise TypeError(f"{key} is staged already")

    def __iter__(self) -> Iterator[str]:
        return iter(self._digests)

    def __len__(self) -> int:
        return len(self._digests)


class WrittenFiles(dict[str, bytes]):
    """A spec's files on their way back from the pool worker that wrote them into the fresh tree
    (compiler.output.writer): only their paths and digests travel; the bytes of any the worker did not
    write (none from a spec today) stay in the mapping for the parent to stage."""

    def __init__(self, rest: dict[str, bytes], digests: dict[str, str], written: list[str]) -> None:
        super().__init__(rest)
        self.digests = digests
        self.written = written


class StageEach:
    """The sink of compiler.pipeline._run_all for a render into `out`: stages each rendered spec's files.

    The session opens at the first spec with files (a run that fails before creates nothing) and stays
    open in `stack`; leaving the stack without commit() discards it. After a spec with errors nothing
    more is staged: the run writes nothing, so there is no point.

    Into a fresh tree (a new or empty `out`) the session opens before the pool starts (`open_if_fresh`),
    and each worker writes the files of the specs it renders itself (`rendered`): the parent neither
    receives nor writes their bytes, which made it the bottleneck of a first render.
    """

    def __init__(self, out: Path, stack: contextlib.ExitStack) -> None:
        self._out = out
        self._stack = stack
        self.session: Staging | None = None
        self._failed = False

    def open(self) -> Staging:
        if self.session is None:
            self.session = self._stack.enter_context(staging(self._out))
        return self.session

    def open_if_fresh(self) -> None:
        """Open the session now when `out` is fresh (nothing in it yet but mlspec's state directory), so pool
        workers forked after this write their specs' files themselves."""
        try:
            fresh = fresh_root(self._out)
        except OSError:
            return  # the session reports it when it opens
        if fresh:
            self.open()

    def rendered(self, result: SpecResult) -> None:
        """Where `result` was rendered (a pool worker, or this process): into a fresh tree, write its files."""
        session = self.session
        if (session is None or session.fresh is None or self._failed or has_errors(result.diagnostics)
                or result.plan is None or not result.files or isinstance(result.files, StagedFiles)):
            return
        files = result.files
        digests = {rel: file_digest(files, rel) for rel in files}  # known already where the facts needed them
        written = session.write_fresh(files)
        # A path not written is another spec's too (MLS502): only the state directory's go back as bytes.
        rest = {rel: data for rel, data in files.items() if not session.is_fresh(rel)}
        result.files = WrittenFiles(rest, digests, written)

    def __call__(self, result: SpecResult) -> None:
        if isinstance(result.files, WrittenFiles):
            # Written where it rendered; adopted even after an earlier spec failed (the workers were forked
            # before), so the run still sees its paths (compiler.pipeline._cross_spec_collisions).
            written, session = result.files, self.open()
            session.adopt(written.written)
            result.files = StagedFiles(session, written.digests)
            if not self._failed:
                session.stage(written)  # its state directory's files, if any (one batch per spec, as below)
            return
        if self._failed or has_errors(result.diagnostics) or result.plan is None:
            self._failed = self._failed or has_errors(result.diagnostics)
            return
        if not result.files or isinstance(result.files, StagedFiles):
            return
        session = self.open()
        digests = {rel: file_digest(result.files, rel) for rel in result.files}
        session.stage(result.files)
        result.files = StagedFiles(session, digests)

