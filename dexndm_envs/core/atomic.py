"""One crash-safe way to write a file: complete on disk under its name, or not there at all.

Every writer of the package goes through `atomic_write` (episodes, actions files, grasp caches,
policies, bundles, settings and result caches): the bytes go to a temporary file in the same
directory (the same file system, so the rename is atomic), which is flushed and fsynced, then
renamed over the target, and the directory is fsynced so that the rename itself survives a power
cut. An exception or a kill before the rename leaves the old file (or none) and no temp file.

Usage:
    with atomic_write(path) as file:
        np.savez(file, **arrays)
    atomic_write_text(path, json.dumps(record))
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

NEW_FILE_MODE = 0o644
"""Mode of a file atomic_write creates: what open() gives under the usual umask 022."""


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write that replaces `path` only once the block completes.

    Parent directories are created. The file keeps the mode of the one it replaces, and a new
    one gets NEW_FILE_MODE (a temporary file is created readable by its owner only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else NEW_FILE_MODE
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.chmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text (UTF-8) to path through atomic_write; returns the path."""
    with atomic_write(path) as file:
        file.write(text.encode("utf-8"))
    return Path(path)


def fsync_directory(directory: str | Path) -> None:
    """Make a rename in directory durable (POSIX; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
