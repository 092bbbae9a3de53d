"""Atomic file writing: a reader sees either the old file or the complete new one, never a
part of it, and a failed write leaves nothing behind; a killed writer's leftovers are removed by
the next write of the same file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# Temporary files are named .<target name>.<host>.<pid>.<random>.tmp: the host (a short hash of
# this machine's name) and the writer's process id tell a later writer whether the file's owner
# is gone; the random part keeps two writers in one process apart.
_HOST = hashlib.sha256(platform.node().encode()).hexdigest()[:8]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; when the block ends without error,
    flush it to disk, rename it over `path` and flush the folder; on any error delete it and
    leave `path` alone.

    A symlink is followed, as open() would write through it: the file it points to is
    replaced and the link stays a link. The temporary file is in the same folder as the file
    it replaces (a rename is atomic only within one file system). When that file exists, the
    new one gets its permission bits (a 0o600 checkpoint stays 0o600), set before any data is
    written (POSIX only); a new file gets the permissions a plain open() would give (0o666
    less the umask). The rename makes a new file: it belongs to the user who wrote it, and
    other hard links to the old file keep the old content.

    A writer killed mid-write (SIGKILL, power loss) cannot delete its temporary file, so each
    write first removes the temporary files of earlier writes of the same `path` whose
    process, on this machine, no longer exists (see remove_stale_temporaries).
    """
    path = Path(path).resolve()     # through symlinks: replacing the link would cut it
    remove_stale_temporaries(path)
    temp = path.parent / f".{path.name}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    keep_mode = _permission_bits(path)
    # replacing a file, the copy starts owner-only (0o600), so not even in the moment before
    # fchmod can more users read it than could read the file it replaces
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if keep_mode is None else 0o600)
    try:
        with os.fdopen(fd, mode) as file:
            if keep_mode is not None:
                os.fchmod(file.fileno(), keep_mode)
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_folder(path.parent)


def _permission_bits(path: Path) -> int | None:
    """The permission bits of the existing file at `path` (e.g. 0o600), or None if there is
    none, or not on POSIX (elsewhere os.fchmod may not exist and mode bits mean little)."""
    if os.name != "posix":
        return None
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files atomic_write left beside `path` in processes that are gone;
    return the paths deleted.

    Only files named exactly as atomic_write names them for this `path`, made on this machine
    (the host part matches), regular files, whose process id is not a running process are
    deleted: a writer still running keeps its file, and so does one on another machine sharing
    the folder. A reused process id keeps a leftover until that process ends too. POSIX only
    (elsewhere nothing is deleted: there is no harmless way to ask whether a process lives).
    """
    path = Path(path)
    if os.name != "posix":
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{_HOST}\.(\d+)\.[0-9a-f]{{8}}\.tmp")
    removed = []
    try:
        entries = os.scandir(path.parent)
    except FileNotFoundError:
        return []            # the caller reports the missing folder when it opens its file
    with entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match is None or _process_exists(int(match.group(1))):
                continue
            with contextlib.suppress(FileNotFoundError):    # another writer removed it first
                if stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this machine (signal 0 checks without sending)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists but belongs to another user
        return True
    except OverflowError:     # not a possible process id: no process has it
        return False
    return True


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
