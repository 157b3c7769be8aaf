"""Files the CLI writes: replaced whole or not at all, never the input they were made from, and
errors writing them told apart from everything else (exit 74)."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, TextIO, cast


class OutputError(OSError):
    """Writing an output failed (disk full, quota, I/O error): ``name`` says which output."""

    def __init__(self, name: str, error: OSError) -> None:
        super().__init__(error.errno, error.strerror)
        self.name = name


@contextmanager
def _named(name: str) -> Iterator[None]:
    """A write error as the :class:`OutputError` of output ``name``; a closed reader (EPIPE) stays a
    ``BrokenPipeError``."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputError(name, error) from None


class Output:
    """A binary sink that names itself in its errors; a closed reader (EPIPE) is not an error of ours
    and stays a ``BrokenPipeError``, which click ends quietly."""

    def __init__(self, file: IO[bytes], name: str) -> None:
        self._file = file
        self.name = name

    def write(self, data: bytes | memoryview) -> int:
        with _named(self.name):
            return self._file.write(data)

    def flush(self) -> None:
        with _named(self.name):
            self._file.flush()


class _NamedStdout:
    """Standard output (text), naming itself in its write errors as :class:`Output` does; everything
    else is the real stream's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with _named("standard output"):
            return self._stream.write(text)

    def flush(self) -> None:
        with _named("standard output"):
            self._stream.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


@contextmanager
def named_stdout() -> Iterator[None]:
    """While the block runs, errors writing the process's standard output (``sys.stdout``, as click and
    rich write it) are :class:`OutputError`s naming it. A stream already replaced (by a test runner) is left alone."""
    if sys.stdout is None or sys.stdout is not sys.__stdout__:
        yield
        return
    real = cast(TextIO, sys.stdout)  # (narrowed by the test above to the type of sys.__stdout__)
    sys.stdout = cast(TextIO, _NamedStdout(real))
    try:
        yield
    finally:
        sys.stdout = real


def silence_stdout() -> None:
    """Point the process's standard output at ``/dev/null`` after it failed, so that Python's own flush
    at exit does not fail on it again (and print a traceback)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.__stdout__.fileno())  # type: ignore[union-attr]
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


def same_file(stream: IO[bytes], path: str) -> bool:
    """Whether ``path`` is the regular file ``stream`` reads, by identity (device and inode), however
    it is spelt: a relative path, a symbolic or hard link, ``/dev/stdin``."""
    try:
        target = os.stat(path)
        source = os.fstat(stream.fileno())
    except (OSError, AttributeError, ValueError):  # no such file yet, or a stream without a descriptor
        return False
    return stat.S_ISREG(target.st_mode) and (source.st_dev, source.st_ino) == (target.st_dev, target.st_ino)


@contextmanager
def atomic_output(path: str) -> Iterator[IO[bytes]]:
    """``path`` opened for writing, replaced only once everything is written: the output goes to a
    temporary file beside it (``.NAME.XXXX.tmp``), renamed over it when the block ends without an
    exception, deleted otherwise, so a failed or interrupted run leaves ``path`` as it was. Through a
    symbolic link the file it points to is replaced. A device or a pipe (``/dev/null``, a FIFO) is
    written directly: it cannot be replaced, and holds no earlier output to protect.
    (The rename is atomic; surviving a power cut as well would also need an fsync.)"""
    target = os.path.realpath(path)
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "wb") as file:
            yield file
        return
    directory, name = os.path.split(target)
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
        os.chmod(temporary, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it; set back at once): what a new file's mode honours."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
