"""The atomic tree writer: the bytes compiler.render.serialize produced, put on disk all or nothing.

Files are staged beside each destination as they arrive (a staging session: a full render hands each
spec's files over as soon as it is rendered, so no process holds the whole tree) and swapped in file by
file under a journal only at the commit point; when any error was found the session is discarded and
nothing visible changed. A crash mid-swap is finished (rolled forward) by the next run, and a write the
machine refuses (full disk, read-only directory) is undone, so no run leaves half a tree.

Length: one module on purpose: staging, the journal and its recovery share the same file-system
collaborator and invariants (what is written where, and how it is undone); split, each part would need
the others' private rules.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from compiler.errors import EnvironmentFault
from compiler.language.specfiles import MANIFEST_NAME, STATE_DIR

MANIFEST = f"{STATE_DIR}/{MANIFEST_NAME}"
_JOURNAL = "journal.json"


# --- atomic tree writing -----------------------------------------------------------------------
#
# Every byte is written before the point of no return, next to where it belongs: a temporary file in
# the destination's own directory, and a hard link (or copy) of the file it replaces. A read-only,
# full or cross-device directory therefore fails while nothing visible has changed; what remains after
# the commit point is renames within one directory, and every one of them can be undone from the
# backups. The journal's file name is its state, so moving between states is a rename (no free space
# needed):
#
#   journal.staging.json   staging: recovery deletes the temporaries, the tree was never touched
#   journal.json           committed: recovery rolls forward; if the machine refuses, rolls back
#   journal.rollback.json  rolling back: recovery restores every touched path from its backup
#   journal.done.json      complete: recovery only deletes the backups
#
# A journal is one JSON object per line ({"entries": [...], "dirs": [...]}), one line per batch a staging
# session accepted: each line is appended before any of its directories or temporaries is created, so
# recovery always knows every temporary. Only the staging journal can end in a line cut short (a kill
# while appending); that batch created nothing yet. (An mlspec from before journals had lines reads this
# form as damaged: a tree left mid-write by this version is recovered by this version or a later one.)
#
# A fresh tree (a render into a new or empty directory, the first render of a project) has nothing to
# back up or to swap file by file: its files are written under their own names into one hidden
# directory inside the root (a line's "trees"), by the pool's workers as they render, and at the commit
# point each top-level entry of it is renamed into place (entries whose "tmp" is a directory). That is
# a handful of renames and journal entries instead of two per file (31k for 1,000 specs), and no
# process holds or ships the bytes. Recovery deletes a listed tree before the commit point, like a
# temporary, and after a refused rename removes what was already renamed in.


_JOURNALS = {name: f"journal.{name}.json" for name in ("staging", "rollback", "done")}
_STATE_PREFIX = f"{STATE_DIR}/"


# A new file, as open(path, "xb") makes it, without the buffered file object around the descriptor (its
# fstat, isatty ioctl and buffer): a render into an empty directory writes 31k files for 1,000 specs.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


class FileSystem:
    """The file operations of the tree writer, injected so tests can make the machine fail for real at an
    exact moment (make a directory immutable right after the commit point, fill a disk, kill the run)."""

    def write(self, path: Path | str, data: bytes) -> None:
        fd = os.open(path, _NEW_FILE, 0o666)
        try:
            written = os.write(fd, data)
            if written < len(data):  # a short write (a disk filling up): the rest, until it raises
                view = memoryview(data)[written:]
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def append(self, path: Path, data: bytes) -> None:
        with open(path, "ab") as handle:
            handle.write(data)

    def link(self, src: Path, dst: Path) -> None:
        """`dst` becomes a second name of `src`; a copy where the filesystem has no hard links."""
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.ENOSYS):
                raise
            self.write(dst, src.read_bytes())

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        path.unlink()

    def mkdir(self, path: Path | str) -> None:
        os.mkdir(path)

    def rmdir(self, path: Path) -> None:
        path.rmdir()

    def remove_tree(self, path: Path) -> None:
        """A fresh tree's hidden directory, or a top-level entry renamed in from it: with everything in it."""
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    def sync(self) -> None:
        # One flush of everything staged instead of an fsync per file (23k files for 1,000 specs):
        # after the commit point every staged byte must already be on disk.
        os.sync()

    def sync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_FS = FileSystem()


def _read_journal(path: Path, *, staging: bool = False) -> dict[str, Any] | None:
    """The journal's plan (its lines merged).

    None only for a staging journal without one complete line: it was cut short while its first line
    was appended, and nothing was staged after it. A last line cut short is dropped (a kill while
    appending it: nothing of that batch was created). Anything else that does not read as lines mlspec
    wrote (an empty committed journal, an unreadable line before the last, a line of another shape)
    raises the damaged-journal fault: deleting such a journal could strand temporaries and backups in
    the tree, so a person decides.
    """
    lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
    plan: dict[str, Any] = {"entries": [], "dirs": [], "trees": []}
    complete = 0
    for number, line in enumerate(lines):
        try:
            part = json.loads(line)
        except ValueError:
            if staging and number == len(lines) - 1:
                break
            raise _damaged(path) from None
        if not isinstance(part, dict) or not ("entries" in part or "trees" in part or "staging" in part):
            raise _damaged(path)
        if "staging" in part:  # an older mlspec's journal: one object
            if len(lines) != 1:
                raise _damaged(path)
            return part
        plan["entries"].extend(part.get("entries", []))
        plan["dirs"].extend(part.get("dirs", []))
        plan["trees"].extend(part.get("trees", []))
        complete += 1
    if complete:
        return plan
    if staging:
        return None
    raise _damaged(path)


def _damaged(path: Path) -> EnvironmentFault:
    # Only a staging journal can be cut short by a crash (the others are renamed from a synced one):
    # anything else is damage from outside that no automatic choice can safely repair.
    return EnvironmentFault("use the write journal", path, OSError(
        errno.EIO, "damaged; compare the tree with `git status`, then delete the journal"))


def _exists(path: Path | str) -> bool:
    return os.path.lexists(path)


def _same(dest: Path, backup: Path) -> bool:
    """True when `dest` still holds what `backup` saved (it was never replaced)."""
    try:
        if os.path.samefile(dest, backup):
            return True
        return dest.is_file() and not dest.is_symlink() and dest.read_bytes() == backup.read_bytes()
    except OSError:
        return False


def _in_tree(entry: Mapping[str, Any], trees: Iterable[str]) -> bool:
    """Whether `entry` is a top-level entry of a fresh tree (a whole directory or file renamed from it)."""
    return entry["tmp"] is not None and entry["tmp"].partition("/")[0] in trees


def _roll_forward(root: Path, plan: Mapping[str, Any], fs: FileSystem) -> None:
    # A fresh tree's entries first: the manifest, staged beside its destination, comes after the files it lists.
    trees = set(plan.get("trees", []))
    for entry in sorted(plan["entries"], key=lambda e: not _in_tree(e, trees)):
        dest = root / entry["path"]
        if entry["tmp"] is not None:
            tmp = root / entry["tmp"]
            if _exists(tmp):  # gone: an interrupted run already moved it
                try:
                    fs.replace(tmp, dest)
                except OSError as exc:
                    raise EnvironmentFault("write", dest, exc) from exc
        elif _exists(dest) and entry["backup"] is not None and _exists(root / entry["backup"]):
            try:
                fs.unlink(dest)
            except OSError as exc:
                raise EnvironmentFault("remove", dest, exc) from exc


def _roll_back(root: Path, plan: Mapping[str, Any], fs: FileSystem, *, touched: bool) -> None:
    """Put every path back as it was. `touched` is False while staging: no destination was changed yet.

    Every entry is tried even after one fails, so a single refusing directory cannot keep the others
    half-written; the first failure is raised at the end and the journal stays for the next run.
    """
    first: EnvironmentFault | None = None
    trees = set(plan.get("trees", []))
    for entry in reversed(plan["entries"]):
        dest = root / entry["path"]
        tmp = root / entry["tmp"] if entry["tmp"] is not None else None
        backup = root / entry["backup"] if entry["backup"] is not None else None
        # A fresh tree's top-level entry is a whole directory; any other entry is one file.
        remove = fs.remove_tree if _in_tree(entry, trees) else fs.unlink
        try:
            if backup is not None and _exists(backup):
                if not touched or (_exists(dest) and _same(dest, backup)):
                    fs.unlink(backup)
                else:
                    fs.replace(backup, dest)
            elif (touched and backup is None and tmp is not None and not _exists(tmp) and _exists(dest)
                  and _renamed_in(dest, entry)):
                remove(dest)  # it did not exist before this write moved it in
            if tmp is not None and _exists(tmp):
                remove(tmp)
        except OSError as exc:
            first = first or EnvironmentFault("restore", dest, exc)
    for rel in sorted(trees):
        try:
            if _exists(root / rel):
                fs.remove_tree(root / rel)
        except OSError as exc:
            first = first or EnvironmentFault("remove", root / rel, exc)
    _remove_dirs(root, plan, fs)
    if first is not None:
        raise first


def _renamed_in(dest: Path, entry: Mapping[str, Any]) -> bool:
    """Whether `dest` is what the entry's rename put there: a fresh tree's top-level entry records its
    device, inode and modification time (a rename keeps all three; a directory made in its place since
    may get the freed inode back, not the same time), so a directory someone put there is not deleted."""
    recorded = entry.get("identity")
    if recorded is None:
        return True  # a file's temporary: its name is this write's own
    return bool(_identity(dest) == recorded)


def _identity(path: Path) -> list[int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_mtime_ns]


def _remove_dirs(root: Path, plan: Mapping[str, Any], fs: FileSystem) -> None:
    for rel in sorted(plan.get("dirs", []), key=lambda d: (-d.count("/"), d)):
        with contextlib.suppress(OSError):  # not empty (the user put something there) or gone: keep it
            fs.rmdir(root / rel)


def _finish(root: Path, plan: Mapping[str, Any], fs: FileSystem) -> None:
    """After the last rename: drop the backups and the directories removals emptied."""
    for entry in plan["entries"]:
        if entry["backup"] is not None and _exists(root / entry["backup"]):
            try:
                fs.unlink(root / entry["backup"])
            except OSError as exc:
                raise EnvironmentFault("clean up", root / entry["backup"], exc) from exc
    for entry in plan["entries"]:
        if entry["tmp"] is None:
            _prune_empty_dirs(root, (root / entry["path"]).parent, fs)
    for rel in plan.get("trees", []):  # emptied by the renames
        if _exists(root / rel):
            try:
                fs.remove_tree(root / rel)
            except OSError as exc:
                raise EnvironmentFault("clean up", root / rel, exc) from exc


def _prune_empty_dirs(root: Path, directory: Path, fs: FileSystem = _FS) -> None:
    root = root.resolve()
    while directory.resolve() != root and directory.is_dir() and not any(directory.iterdir()):
        try:
            fs.rmdir(directory)
        except OSError:
            return  # an empty directory left behind is harmless
        directory = directory.parent


def _apply_journal(root: Path, journal: Path, fs: FileSystem = _FS) -> None:
    """Finish a committed write: roll forward, or roll back completely if the machine refuses."""
    plan = _read_journal(journal)
    if plan is None:
        raise _damaged(journal)
    if "staging" in plan:  # written by mlspec before 0.x journals: a staging dir under .mlspec
        _apply_legacy_journal(root, journal, plan)
        return
    try:
        _roll_forward(root, plan, fs)
    except EnvironmentFault:
        rollback = journal.with_name(_JOURNALS["rollback"])
        _step(fs.replace, journal, rollback)
        _roll_back(root, plan, fs, touched=True)
        _step(fs.unlink, rollback)
        raise
    done = journal.with_name(_JOURNALS["done"])
    _step(fs.replace, journal, done)
    _finish(root, plan, fs)
    _step(fs.unlink, done)


def _step(operation: Any, path: Path, *more: Path) -> None:
    """A journal operation; the machine refusing it is an environment fault naming the journal."""
    try:
        operation(path, *more)
    except OSError as exc:
        raise EnvironmentFault("update the write journal", path, exc) from exc


def _apply_legacy_journal(root: Path, journal: Path, plan: Mapping[str, Any]) -> None:
    staging = root / plan["staging"]
    for rel in plan["write"]:
        src = staging / rel
        if src.exists():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
    for rel in plan["remove"]:
        target = root / rel
        if target.is_file() or target.is_symlink():
            target.unlink()
        _prune_empty_dirs(root, target.parent)
    shutil.rmtree(staging, ignore_errors=True)
    journal.unlink()


@contextlib.contextmanager
def _exclusive(state: Path) -> Iterator[None]:
    """One writer per tree at a time, threads and processes alike: a flock on the state directory
    itself (no lock file to show up in `git status`), released by the kernel when a process dies."""
    try:
        fd = os.open(state, os.O_RDONLY)
    except OSError as exc:
        raise EnvironmentFault("open", state, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def recover(root: Path, fs: FileSystem | None = None) -> bool:
    """Complete an interrupted write, if any. Returns True when there was one.

    Raises EnvironmentFault when the machine still refuses (the journal stays for the next run).
    """
    state = root / STATE_DIR
    pending = [*_JOURNALS.values(), _JOURNAL]
    if not state.is_dir() or not (any((state / n).is_file() for n in pending) or any(state.glob("staging-*"))):
        return False  # the common case, without a lock: a read-only tree with nothing to finish stays readable
    with _exclusive(state):
        return _recover(root, fs or _FS)


def _recover(root: Path, fs: FileSystem) -> bool:
    state = root / STATE_DIR
    if not state.is_dir():
        return False
    found = False
    try:
        for stale in state.glob("staging-*"):  # an older mlspec's staging dir without a journal
            shutil.rmtree(stale, ignore_errors=True)
        for kind in ("staging", "rollback", "done"):
            path = state / _JOURNALS[kind]
            if not path.is_file():
                continue
            found = True
            plan = _read_journal(path, staging=kind == "staging")
            if plan is None:
                pass  # cut short while being written: nothing was staged after it yet
            elif kind == "done":
                _finish(root, plan, fs)
            else:
                _roll_back(root, plan, fs, touched=kind == "rollback")
            fs.unlink(path)
        journal = state / _JOURNAL
        if journal.is_file():
            found = True
            _apply_journal(root, journal, fs)
    except OSError as exc:
        raise EnvironmentFault("recover an interrupted write in", exc.filename or root, exc) from exc
    return found


def _make_dirs(fs: FileSystem, directory: str, made: set[str]) -> None:
    """`directory` and its missing parents (in a fresh tree: a concurrent worker may make one first)."""
    parent = directory.rpartition("/")[0]
    if parent not in made and not os.path.isdir(parent):
        _make_dirs(fs, parent, made)
    try:
        fs.mkdir(directory)
    except FileExistsError:
        pass
    except OSError as exc:
        raise EnvironmentFault("create directory", directory, exc) from exc
    made.add(directory)


def _missing_dirs(root: Path, directory: Path, known: set[Path]) -> list[Path]:
    """Directories between `root` and `directory` that do not exist yet, outermost first.

    `known` holds directories already looked at (existing or to be created): 23k files share a few
    hundred directories.
    """
    missing: list[Path] = []
    while directory != root and directory not in known:
        known.add(directory)
        if directory.is_dir():
            break
        missing.append(directory)
        directory = directory.parent
    return missing[::-1]


def write_file(path: Path, data: bytes, fs: FileSystem | None = None) -> None:
    """Replace one file atomically: a full disk or a refused directory leaves the old file (or none)."""
    fs = fs or _FS
    tmp = path.with_name(f".{path.name}.mlspec-new-{os.getpid()}-{threading.get_ident()}")
    try:
        fs.write(tmp, data)
        fs.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            fs.unlink(tmp)
        raise EnvironmentFault("write", path, exc) from exc


def write_tree(root: Path, files: Mapping[str, bytes], remove: Iterable[str] = (), *,
               fs: FileSystem | None = None) -> None:
    """Write `files` (relative path -> bytes) under `root` and delete `remove`, all or nothing.

    Raises EnvironmentFault (naming the path and the errno) when the machine refuses; every path is
    then exactly as it was.
    """
    with staging(root, fs) as session:
        session.stage(files, remove)
        session.commit()


def fresh_root(root: Path) -> bool:
    """Whether `root` holds nothing but mlspec's state directory (or is not there yet): a staging session
    on it writes a fresh tree (see the module's notes)."""
    try:
        return all(name == STATE_DIR for name in os.listdir(root))
    except FileNotFoundError:
        return True


@contextlib.contextmanager
def staging(root: Path, fs: FileSystem | None = None) -> Iterator[Staging]:
    """A staging session on `root`, holding the tree's lock: `stage` files as they come, then `commit`.

    Leaving it without commit() (an error found later, an exception) discards everything staged: the tree
    is as it was, and directories the session created for itself are removed again. A kill leaves the
    staging journal, and the next run's recover() deletes what it lists.
    """
    fs = fs or _FS
    state = root / STATE_DIR
    created = [d for d in (*reversed(root.parents), root, state) if not d.is_dir()]
    for directory in (root, state):
        try:
            directory.mkdir(parents=directory == root, exist_ok=True)
        except OSError as exc:
            raise EnvironmentFault("create directory", directory, exc) from exc
    session: Staging | None = None
    try:
        with _exclusive(state):
            _recover(root, fs)
            session = Staging(root, fs)
            try:
                try:
                    fresh = fresh_root(root)
                except OSError as exc:
                    raise EnvironmentFault("list", root, exc) from exc
                if fresh:
                    session.start_fresh_tree()
                yield session
            except (Exception, KeyboardInterrupt, SystemExit):
                # Ctrl-C and sys.exit too: a render stages for its whole run, and its temporaries must not
                # linger in the tree until the next run. A kill runs no cleanup: the next run's recover()
                # does it, as it does when the machine refuses this cleanup (the original error is the one
                # to report, not the cleanup's).
                with contextlib.suppress(OSError, EnvironmentFault):
                    session.discard()
                raise
            session.discard()
    finally:
        if session is not None and not session.committed:
            for directory in reversed(created):
                with contextlib.suppress(OSError):  # not empty: something else was put there; keep it
                    directory.rmdir()


class Staging:
    """Files staged beside their destinations as they arrive; nothing visible changes before commit().

    It compares each file with the tree (unchanged files are not staged, so they keep their mtime),
    knows what it staged (`added`, `changed`, `unchanged`) and reads staged files back (`read`), so a
    caller keeps only paths and digests.
    """

    def __init__(self, root: Path, fs: FileSystem) -> None:
        self.root, self.fs = root, fs
        self.journal = root / STATE_DIR / _JOURNALS["staging"]
        self.token = f"{os.getpid()}-{threading.get_ident()}"
        # (path, index, staged, backed up): the journal's entries, compact (31k dicts with their
        # temporaries' names were 11 MB for 1,000 specs); `entries` spells them out.
        self._entries: list[tuple[str, int, bool, bool]] = []
        self.dirs: list[str] = []
        self.added: list[str] = []
        self.changed: list[str] = []
        self.unchanged: set[str] = set()
        self.removed: list[str] = []
        self.committed = False
        self._staged: dict[str, int] = {}  # path -> its entry's index
        self._known: set[Path] = set()
        self._parents: set[str] = set()
        # A fresh tree (see the module's notes): its hidden directory, the paths written there, and the
        # directories made there by this process (a pool worker has its own copy of the session).
        self.fresh: str | None = None
        self._fresh: set[str] = set()
        self._fresh_dirs: set[str] = set()
        self._journaled = False  # the staging journal has a line

    def __contains__(self, rel: str) -> bool:
        return rel in self._staged or rel in self.unchanged or rel in self._fresh

    def start_fresh_tree(self) -> None:
        """Write every file but the state directory's into a hidden directory, renamed into place at commit:
        for a root that holds nothing yet (staging() decides), so nothing needs a backup or a swap."""
        fresh = f".mlspec-new-{self.token}-tree"
        # No "entries" key: an mlspec from before fresh trees reads the line as damaged instead of
        # ignoring the tree it names (and leaving it in the output directory for `git add -A`).
        self._journal_line({"trees": [fresh]})
        self.fresh = fresh  # journaled: from here on a discard (or the next run's recovery) removes it
        try:
            self.fs.mkdir(self.root / fresh)
        except OSError as exc:
            raise EnvironmentFault("create directory", self.root / fresh, exc) from exc
        self._fresh_dirs.add(f"{self.root}/{fresh}")

    def is_fresh(self, rel: str) -> bool:
        """Whether `rel` goes into the fresh tree (everything but the state directory's files)."""
        return self.fresh is not None and not rel.startswith(_STATE_PREFIX)

    def write_fresh(self, files: Mapping[str, bytes]) -> list[str]:
        """Write `files` into the fresh tree under their own names; the paths written (hand them to `adopt`).

        Safe in a forked pool worker while the parent holds the session: the fresh tree is journaled
        already, and nothing here changes what the parent knows. A path given before is skipped (two
        specs rendering one path is an error the caller reports, and it then discards the session).
        """
        assert self.fresh is not None
        base, fs, made = f"{self.root}/{self.fresh}", self.fs, self._fresh_dirs
        written = []
        for rel, data in files.items():
            if rel in self or not self.is_fresh(rel):
                continue
            parent, _, _ = rel.rpartition("/")
            directory = f"{base}/{parent}" if parent else base
            if directory not in made:
                _make_dirs(fs, directory, made)
            try:
                fs.write(f"{base}/{rel}", data)
            except FileExistsError:
                continue  # another worker's spec renders it too: the caller reports that collision
            except OSError as exc:
                raise EnvironmentFault("write", self.root / rel, exc) from exc
            written.append(rel)
        return written

    def adopt(self, written: Iterable[str]) -> None:
        """Paths `write_fresh` wrote (maybe in a pool worker): staged, as added files."""
        for rel in written:
            if rel not in self._fresh:
                self._fresh.add(rel)
                self.added.append(rel)

    def _journal_line(self, line: dict[str, Any]) -> None:
        data = json.dumps(line).encode()
        try:
            if self._journaled:
                self.fs.append(self.journal, b"\n" + data)
            else:
                self.fs.write(self.journal, data)
        except OSError as exc:
            if not self._journaled:
                with contextlib.suppress(OSError):
                    self.fs.unlink(self.journal)
            raise EnvironmentFault("write", self.journal, exc) from exc
        self._journaled = True

    def _name(self, rel: str, kind: str, index: int) -> str:
        """The temporary ("new") or backup ("old") of entry `index`, beside `rel`."""
        parent, _, _ = rel.rpartition("/")
        return f"{parent}/.mlspec-{kind}-{self.token}-{index}" if parent else f".mlspec-{kind}-{self.token}-{index}"

    def _entry(self, rel: str, index: int, staged: bool, backup: bool) -> dict[str, Any]:
        return {"path": rel, "tmp": self._name(rel, "new", index) if staged else None,
                "backup": self._name(rel, "old", index) if backup else None}

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The journal's entries so far, as the journal spells them."""
        return [self._entry(*item) for item in self._entries]

    def read(self, rel: str) -> bytes:
        """A file handed to stage(): from its temporary, or from the tree when it was unchanged."""
        index = self._staged.get(rel)
        if rel in self._fresh:
            path = self.root / f"{self.fresh}/{rel}"
        else:
            path = self.root / (self._name(rel, "new", index) if index is not None else rel)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise EnvironmentFault("read", path, exc) from exc

    def stage(self, files: Mapping[str, bytes], remove: Iterable[str] = ()) -> None:
        """Stage `files` and the removal of `remove`. A path already given is ignored (two specs rendering
        one path is an error the caller reports; it then discards the session)."""
        root, fs = self.root, self.fs
        if self.fresh is not None:
            self.adopt(self.write_fresh(files))
        changed: list[str] = []
        base = str(root)
        for rel, data in sorted(files.items()):
            if rel in self or self.is_fresh(rel):  # one already written there by another spec: MLS502
                continue
            try:
                os.lstat(f"{base}/{rel}")
            except FileNotFoundError:
                changed.append(rel)  # the common case into an empty tree: nothing there, no Path needed
                continue
            except OSError:
                pass  # the checks below say what is wrong
            dest = root / rel
            try:
                if dest.is_file() and dest.read_bytes() == data:
                    self.unchanged.add(rel)
                    continue  # unchanged files keep their mtime, so tools watching the tree see only real changes
            except OSError as exc:
                raise EnvironmentFault("read", dest, exc) from exc
            if dest.is_dir() and not dest.is_symlink():
                raise EnvironmentFault("write", dest, IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR)))
            changed.append(rel)
        removals = sorted({r for r in remove if r not in files and r not in self and _exists(root / r)})
        if not changed and not removals:
            return
        batch: list[tuple[str, int, bool, bool]] = []
        dirs: list[Path] = []
        for index, rel in enumerate([*changed, *removals], start=len(self._entries)):
            parent, _, _ = rel.rpartition("/")
            if parent not in self._parents:  # 31k files share 16k directories: look at each once
                self._parents.add(parent)
                dirs.extend(_missing_dirs(root, (root / rel).parent, self._known))
            existed = _exists(f"{base}/{rel}")
            batch.append((rel, index, rel in files, existed))
            if rel in files:
                (self.changed if existed else self.added).append(rel)
            else:
                self.removed.append(rel)
        entries = [self._entry(*item) for item in batch]
        self._journal_line({"entries": entries, "dirs": [d.relative_to(root).as_posix() for d in dirs]})
        # In the journal now: from here on a discard (or the next run's recovery) removes what follows.
        self._entries.extend(batch)
        self.dirs.extend(d.relative_to(root).as_posix() for d in dirs)
        for directory in dirs:
            try:
                fs.mkdir(directory)
            except OSError as exc:
                raise EnvironmentFault("create directory", directory, exc) from exc
        for (rel, index, _, _), item in zip(batch, entries, strict=True):
            dest = root / rel
            try:
                if item["tmp"] is not None:
                    fs.write(root / item["tmp"], files[rel])
                    self._staged[rel] = index
                if item["backup"] is not None:
                    fs.link(dest, root / item["backup"])
            except OSError as exc:
                raise EnvironmentFault("write", dest, exc) from exc

    def commit(self) -> None:
        """The point of no return: every staged file replaces its destination, or (refused) none does."""
        if not self._entries and not self._fresh:
            self.discard()  # a fresh tree's empty hidden directory, and the journal naming it
            self.committed = True
            return
        fs, state = self.fs, self.journal.parent
        if self._fresh:  # each top-level entry of the fresh tree is renamed into place
            self._journal_line({"entries": self._top_entries()})
        try:
            fs.sync()
        except OSError as exc:
            raise EnvironmentFault("write", self.root, exc) from exc
        journal = state / _JOURNAL
        try:
            fs.replace(self.journal, journal)  # the commit point: from here on the write completes or is undone
        except OSError as exc:
            raise EnvironmentFault("write", journal, exc) from exc
        self.committed = True
        with contextlib.suppress(OSError):  # the rename is done; syncing its name is best effort on odd filesystems
            fs.sync_dir(state)
        _apply_journal(self.root, journal, fs)

    def _top_entries(self) -> list[dict[str, Any]]:
        """The fresh tree's top-level entries, checked free in the root: the root was empty when the session
        started, and a rename would replace a file that appeared since without a backup."""
        entries = []
        for top in sorted({rel.partition("/")[0] for rel in self._fresh}):
            dest, tmp = self.root / top, self.root / f"{self.fresh}/{top}"
            if _exists(dest):
                raise EnvironmentFault("write", dest, FileExistsError(
                    errno.EEXIST, "appeared in the output directory during the render; render again"))
            identity = _identity(tmp)
            if identity is None:
                raise EnvironmentFault("read", tmp, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)))
            entries.append({"path": top, "tmp": f"{self.fresh}/{top}", "backup": None, "identity": identity})
        return entries

    def discard(self) -> None:
        """Delete everything staged; the tree was never touched. A no-op after commit()."""
        if self.committed or not _exists(self.journal):
            return
        plan = {"entries": self.entries, "dirs": self.dirs, "trees": [self.fresh] if self.fresh else []}
        _roll_back(self.root, plan, self.fs, touched=False)
        self.fs.unlink(self.journal)
