"""Atomic file writing: a reader sees either the old file or the complete new one, never a
part of it, and a failed write leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; when the block ends without error,
    flush it to disk, rename it over `path` and flush the folder; on any error delete it and
    leave `path` alone.

    The temporary file is in the same folder (a rename is atomic only within one file
    system) and gets the permissions a plain open() would give.
    """
    path = Path(path)
    temp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file to disk, so the rename survives a crash.

    POSIX only: other systems (Windows) cannot open a folder for fsync.
    """
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
