"""Git operations on the deployment repository and on the spec repository (gitpython, imported lazily).

Commits are built on a private index (read-tree HEAD, add only mlspec's paths, write-tree, commit-tree)
and published with one compare-and-swap `update-ref`: whatever the user has staged is never swept in,
and a failure before the ref moves leaves no commit at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.errors import EnvironmentFault

DEFAULT_NAME = "mlspec"
DEFAULT_EMAIL = "mlspec@localhost"
ZERO = "0" * 40


class GitError(EnvironmentFault):
    """A git operation failed; the message says which and why."""


def open_repo(path: Path) -> Any:
    import git

    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise GitError(f"{path} is not a git repository (create it with `git init {path}`)") from exc
    if repo.bare:
        raise GitError(f"{path} is a bare repository; mlspec needs a working tree")
    # File names come from targets, never from a user's glob: no pathspec magic.
    repo.git.update_environment(GIT_LITERAL_PATHSPECS="1")
    return repo


def open_spec_repo(path: Path) -> Any:
    import git

    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise GitError(f"{path} is not inside a git repository; --base needs the spec repository's history") from exc


def head_sha(repo: Any) -> str | None:
    try:
        return str(repo.head.commit.hexsha)
    except ValueError:
        return None  # unborn branch: no commit yet


def committed_blobs(repo: Any, paths: Iterable[str]) -> dict[str, bytes]:
    """Contents of `paths` in HEAD (paths absent from HEAD are left out)."""
    sha = head_sha(repo)
    if sha is None:
        return {}
    tree = repo.head.commit.tree
    found: dict[str, bytes] = {}
    for path in paths:
        try:
            blob = tree / path
        except KeyError:
            continue
        if blob.type == "blob":
            found[path] = bytes(blob.data_stream.read())
    return found


def tracked_in_head(repo: Any) -> set[str]:
    if head_sha(repo) is None:
        return set()
    out = repo.git.ls_tree("-r", "-z", "--name-only", "HEAD")
    return {p for p in out.split("\0") if p}


def identity(repo: Any) -> dict[str, str]:
    """Author and committer: the environment, else the repository's git config, else mlspec's default."""
    reader = repo.config_reader()

    def config(key: str) -> str | None:
        try:
            value = reader.get_value("user", key)
        except Exception:  # gitpython raises configparser errors of several kinds for a missing key
            return None
        return str(value) if value else None

    name = config("name") or DEFAULT_NAME
    email = config("email") or DEFAULT_EMAIL
    env = {}
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"] = os.environ.get(f"GIT_{role}_NAME") or name
        env[f"GIT_{role}_EMAIL"] = os.environ.get(f"GIT_{role}_EMAIL") or email
    return env


def current_branch(repo: Any) -> str | None:
    try:
        return str(repo.git.symbolic_ref("-q", "--short", "HEAD"))
    except Exception:
        return None  # detached HEAD


def switch_branch(repo: Any, branch: str) -> None:
    """Make `branch` the checked-out branch, creating it from HEAD (or unborn) when it does not exist."""
    import git

    if current_branch(repo) == branch:
        return
    try:
        repo.git.check_ref_format("--branch", branch)
    except git.GitCommandError as exc:
        raise GitError(f"invalid branch name {branch!r}") from exc
    try:
        if head_sha(repo) is None:
            repo.git.symbolic_ref("HEAD", f"refs/heads/{branch}")
        elif branch in [h.name for h in repo.heads]:
            repo.git.checkout("-q", branch)
        else:
            repo.git.checkout("-q", "-b", branch)
    except git.GitCommandError as exc:
        raise GitError(f"cannot switch to branch {branch!r}: {exc.stderr.strip()}") from exc


@dataclass(frozen=True, slots=True)
class Committed:
    sha: str
    tree: str


def commit_paths(repo: Any, paths: Iterable[str], message: str) -> Committed | None:
    """Commit the working-tree state of `paths` (additions, changes, deletions) on top of HEAD.

    Returns None when that leaves the tree unchanged. Nothing else in the index or working tree is
    committed; the real index is brought in line for `paths` afterwards.
    """
    import git

    git_dir = Path(repo.git_dir)
    parent = head_sha(repo)
    wanted = sorted(set(paths))
    existing = {p for p in wanted if os.path.lexists(Path(repo.working_tree_dir) / p)}
    tracked = tracked_in_head(repo)
    pathspec = [p for p in wanted if p in existing or p in tracked]
    with _scratch(git_dir, "mlspec-index-") as index, _scratch(git_dir, "mlspec-paths-") as listing, \
            _scratch(git_dir, "mlspec-msg-") as msgfile:
        listing.write_bytes(b"".join(p.encode() + b"\0" for p in pathspec))
        msgfile.write_text(message)
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            with repo.git.custom_environment(**env):
                if parent is None:
                    repo.git.read_tree("--empty")
                else:
                    repo.git.read_tree(parent)
                if pathspec:
                    repo.git.add("-A", f"--pathspec-from-file={listing}", "--pathspec-file-nul")
                tree = str(repo.git.write_tree())
            if parent is not None and tree == str(repo.git.rev_parse(f"{parent}^{{tree}}")):
                return None
            if parent is None and not pathspec:
                return None
            args = [tree, "-F", str(msgfile)]
            if parent is not None:
                args[1:1] = ["-p", parent]
            with repo.git.custom_environment(**identity(repo)):
                sha = str(repo.git.commit_tree(*args))
            # Compare-and-swap: fails if anything moved HEAD's branch since we read it.
            repo.git.update_ref("-m", "mlspec commit", "HEAD", sha, parent or ZERO)
        except git.GitCommandError as exc:
            raise GitError(f"git {exc.command[1] if len(exc.command) > 1 else ''} failed: "
                           f"{(exc.stderr or '').strip()}") from exc
        if pathspec:
            # The commit is made; a stale index entry would only show up in `git status`.
            with suppress(git.GitCommandError):
                repo.git.reset("-q", f"--pathspec-from-file={listing}", "--pathspec-file-nul")
    return Committed(sha, tree)


@contextmanager
def _scratch(directory: Path, prefix: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix=prefix, dir=directory)
    os.close(fd)
    path = Path(name)
    path.unlink()  # git wants to create the index itself
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        Path(f"{path}.lock").unlink(missing_ok=True)


def push(repo: Any, remote: str, branch: str | None) -> str:
    import git

    branch = branch or current_branch(repo)
    if branch is None:
        raise GitError("HEAD is detached; pass --branch to push")
    if remote not in [r.name for r in repo.remotes]:
        raise GitError(f"no remote named {remote!r} in {repo.working_tree_dir}")
    try:
        repo.git.push("--porcelain", remote, f"HEAD:refs/heads/{branch}")
    except git.GitCommandError as exc:
        raise GitError(f"push to {remote} failed: {(exc.stderr or '').strip()}") from exc
    return branch


@contextmanager
def worktree_at(repo: Any, ref: str) -> Iterator[Path]:
    """A detached temporary worktree of the spec repository at `ref`, removed afterwards."""
    import git

    try:
        commit = str(repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}"))
    except git.GitCommandError as exc:
        raise GitError(f"unknown git ref {ref!r}") from exc
    holder = Path(tempfile.mkdtemp(prefix="mlspec-base-"))
    path = holder / "worktree"
    try:
        try:
            repo.git.worktree("add", "--detach", "--quiet", str(path), commit)
        except git.GitCommandError as exc:
            raise GitError(f"cannot check out {ref!r}: {(exc.stderr or '').strip()}") from exc
        yield path
    finally:
        with suppress(git.GitCommandError):
            repo.git.worktree("remove", "--force", str(path))
        import shutil

        shutil.rmtree(holder, ignore_errors=True)
        with suppress(git.GitCommandError):
            repo.git.worktree("prune")


def snapshot(root: Path, paths: Iterable[str]) -> dict[str, bytes | None]:
    """The current bytes of `paths` under `root` (None: absent), to restore after a failed commit."""
    out: dict[str, bytes | None] = {}
    for rel in paths:
        path = root / rel
        out[rel] = path.read_bytes() if path.is_file() else None
    return out


def restore(root: Path, saved: Mapping[str, bytes | None]) -> None:
    from compiler.output.writer import write_tree

    write_tree(root, {k: v for k, v in saved.items() if v is not None},
               [k for k, v in saved.items() if v is None])
