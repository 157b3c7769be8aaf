"""Load a policy from a path or from a git revision (``HEAD~1:rules/acme``, ``main:policy.yaml``).

Reviews compare a policy with its own past, so ``gesture diff`` accepts ``REV:path``. We read the
revision with git itself (``git cat-file`` / ``git ls-tree``, no shell), copy the policy's YAML
files into a temporary directory and load that: the work tree and the index are never touched.
A spec is a revision only when it is not an existing path, so a file named ``a:b`` still works.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
from pathlib import Path

from gesture_engine.errors import GestureError, PolicyError
from gesture_engine.load.source import MAX_FILE_BYTES
from gesture_engine.policy import Policy, load_policy

GIT_TIMEOUT = 60
"""Seconds any one git command may take."""


class RevisionError(GestureError):
    """A ``REV:path`` spec could not be read from git; ``spec`` and ``reason`` say which and why."""

    def __init__(self, spec: str, reason: str) -> None:
        self.spec = spec
        self.reason = reason
        super().__init__(f"cannot read {spec}: {reason}")


def is_revision(spec: str, cwd: str | os.PathLike[str] | None = None) -> bool:
    """True when ``spec`` names a git revision (``REV:path``) rather than an existing path."""
    here = Path(cwd) if cwd is not None else Path()
    return ":" in spec and not spec.startswith(":") and not (here / spec).exists()


def _git(args: list[str], cwd: Path, spec: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise RevisionError(spec, "git is not installed") from None
    except subprocess.TimeoutExpired:
        raise RevisionError(spec, f"git took longer than {GIT_TIMEOUT}s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RevisionError(spec, message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def materialise(spec: str, target: Path, cwd: str | os.PathLike[str] | None = None) -> Path:
    """Write the policy file or directory named by ``REV:path`` under ``target``; return its path."""
    rev, _, inner = spec.partition(":")
    if not rev or rev.startswith("-") or not inner:
        raise RevisionError(spec, "expected REV:path, e.g. HEAD~1:rules/default")
    where = Path(cwd) if cwd is not None else Path.cwd()
    obj = f"{rev}:{inner}"
    kind = _git(["cat-file", "-t", obj], where, spec).decode().strip()
    name = Path(inner.rstrip("/")).name or "policy"
    if kind == "blob":
        size = int(_git(["cat-file", "-s", obj], where, spec))
        if size > MAX_FILE_BYTES:
            raise RevisionError(spec, f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")
        path = target / name
        path.write_bytes(_git(["cat-file", "blob", obj], where, spec))
        return path
    if kind != "tree":
        raise RevisionError(spec, f"is a git {kind}, not a policy file or directory")
    directory = target / name
    directory.mkdir()
    # -z: NUL-separated, names unquoted; -l: sizes. Only files directly inside, as load_policy reads.
    for entry in _git(["ls-tree", "-z", "-l", obj], where, spec).split(b"\0"):
        if not entry:
            continue
        meta, _, raw_name = entry.partition(b"\t")
        mode, otype, sha, size_text = meta.split()
        file_name = raw_name.decode("utf-8", "replace")
        if otype != b"blob" or not file_name.endswith((".yaml", ".yml")) or "/" in file_name or mode == b"120000":
            continue
        if int(size_text) > MAX_FILE_BYTES:
            raise RevisionError(spec, f"{file_name} is {int(size_text)} bytes; the limit is {MAX_FILE_BYTES}")
        (directory / file_name).write_bytes(_git(["cat-file", "blob", sha.decode()], where, spec))
    return directory


def load_spec(spec: str, cwd: str | os.PathLike[str] | None = None) -> Policy:
    """Load the policy at a path, or at ``REV:path`` in the git repository around ``cwd``.

    Raises ``PolicyError`` (problems located as ``REV:path/file.yaml``) or ``RevisionError``.
    """
    if not is_revision(spec, cwd):
        return load_policy(Path(cwd, spec) if cwd is not None else spec)
    with tempfile.TemporaryDirectory(prefix="gesture-rev-") as temp:
        path = materialise(spec, Path(temp), cwd)
        try:
            return load_policy(path)
        except PolicyError as error:
            raise relabelled(error, path, spec) from None


def relabelled(error: PolicyError, path: Path, spec: str) -> PolicyError:
    """``error`` with the problems in files under ``path`` (where ``spec`` was materialised) located
    as ``REV:path/file.yaml``."""
    prefix = os.fspath(path)
    label = spec.rstrip("/")
    return PolicyError([dataclasses.replace(p, file=label + p.file[len(prefix):]) if p.file.startswith(prefix) else p for p in error.problems])
