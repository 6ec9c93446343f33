"""Opening HDF5 files safely, and replacing them atomically.

HDF5 has no journal: a process killed while it modifies a file can leave it unreadable.
distenv therefore never modifies a file that holds acknowledged data in place. A change is
made to a copy (``copy_file_range``: a cheap reflink on filesystems that have them), the copy
is fsynced, and renamed over the original -- readers see the old file or the new one, never
half of each.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Iterator

import tables

from distenv.errors import (CompressionUnavailableError, ConfigurationError, CorruptFileError,
                            StorageError)

COMPLIBS = ("zlib", "blosc", "lzo", "bzip2", "blosc2")

warnings.filterwarnings("ignore", category=tables.NaturalNameWarning)
warnings.filterwarnings("ignore", category=tables.PerformanceWarning)

#: Held while this process writes an HDF5 file; a fork in any thread waits for it (see
#: :func:`hdf5_section`). Made anew in a forked child (the parent's holder is not there).
#: Fork hooks run in reverse order of registration: ours runs before logging's, so a thread
#: about to fork waits here without holding logging's lock, which a store may need.
_HDF5_SECTION = threading.RLock()
logger = logging.getLogger("distenv.storage")  # importing logging first registers its hook


def _renew_section_lock() -> None:
    global _HDF5_SECTION
    _HDF5_SECTION = threading.RLock()


os.register_at_fork(before=lambda: _HDF5_SECTION.acquire(),
                    after_in_parent=lambda: _HDF5_SECTION.release(),
                    after_in_child=_renew_section_lock)


@contextlib.contextmanager
def hdf5_section() -> Iterator[None]:
    """No ``fork()`` of this process, in any thread, while the block runs.

    A sweep's executor forks workers from its dispatcher thread while the main thread may
    store. A child forked in the middle of HDF5 work would inherit the library's state half
    changed (and the open file); the workers use HDF5 themselves (journal shards). So stores
    run in this section and forks wait for its end (``os.register_at_fork``); re-entrant.
    """
    with _HDF5_SECTION:
        yield


def make_filters(complevel: int, complib: str, shuffle: bool, fletcher32: bool) -> tables.Filters:
    """PyTables filters; raises if the compression library is not in this build."""
    if not isinstance(complevel, int) or isinstance(complevel, bool) or not 0 <= complevel <= 9:
        raise ConfigurationError("complevel must be an int from 0 to 9, not %r" % (complevel,))
    base = complib.split(":")[0] if isinstance(complib, str) else None
    if base not in COMPLIBS:
        raise CompressionUnavailableError("complib %r is unknown; choose one of %s"
                                          % (complib, ", ".join(COMPLIBS)))
    if tables.which_lib_version(complib) is None:
        available = [lib for lib in COMPLIBS if tables.which_lib_version(lib) is not None]
        raise CompressionUnavailableError(
            "complib %r is not available in this PyTables/HDF5 build; available: %s"
            % (complib, ", ".join(available)))
    return tables.Filters(complevel=complevel, complib=complib, shuffle=bool(shuffle),
                          fletcher32=bool(fletcher32))


def open_for_reading(path: str | Path) -> tables.File:
    """Open an HDF5 file read-only; a missing or damaged file raises a clear error."""
    path = Path(path)
    if not path.exists():
        raise StorageError("file %s does not exist" % path)
    try:
        if not tables.is_hdf5_file(str(path)):
            raise CorruptFileError("%s is not an HDF5 file (or it is truncated)" % path)
        return tables.open_file(str(path), mode="r")
    except CorruptFileError:
        raise
    except (tables.HDF5ExtError, OSError, ValueError) as exc:
        raise CorruptFileError("cannot read HDF5 file %s: it is damaged or truncated (%s)"
                               % (path, str(exc).splitlines()[0] if str(exc) else exc)) from exc


def fsync_path(path: str | Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: str | Path) -> None:
    with contextlib.suppress(OSError):
        fsync_path(directory)


def copy_file(source: Path, target: Path) -> None:
    """Copy with ``copy_file_range`` (reflinks where the filesystem can)."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        remaining = os.fstat(src.fileno()).st_size
        try:
            while remaining > 0:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                if copied == 0:
                    break
                remaining -= copied
        except OSError:
            src.seek(0)
            dst.seek(0)
            dst.truncate()
            while chunk := src.read(1 << 22):
                dst.write(chunk)


def temporary_name(path: Path) -> Path:
    return path.with_name(".%s.tmp-%d" % (path.name, os.getpid()))


def remove_stale_temporaries(path: Path) -> None:
    """Remove copies left by writers that died mid-change (their pid is gone)."""
    prefix = ".%s.tmp-" % path.name
    if not path.parent.exists():
        return
    for candidate in path.parent.iterdir():
        if candidate.name.startswith(prefix):
            pid = candidate.name[len(prefix):]
            if pid.isdigit() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    candidate.unlink()
                    logger.debug("removed %s, left by process %s that died while storing",
                                 candidate, pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock for changing ``path``: a ``flock`` on its folder.

    The file itself cannot carry the lock because every change replaces it by a new inode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path.parent), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def commit_temporary(temporary: Path, final: Path, fsync: bool) -> None:
    """Make ``temporary`` the file ``final`` in one atomic step."""
    if fsync:
        fsync_path(temporary)
    os.replace(temporary, final)
    if fsync:
        fsync_dir(final.parent)


def close_written(h5: tables.File) -> None:
    """Close ``h5`` (opened for writing) with one flush of the file, not one per table.

    PyTables closes each open table with ``H5Fflush`` of the whole file (its metadata cache
    included): about 1 ms each, so a store that touched 15 tables flushed the file 15 times.
    Here each table's buffered rows are written and the table is closed without that flush;
    closing the file then writes everything once (the data are the same; durability comes
    from the fsync before the rename, see :func:`commit_temporary`). Indexed tables close
    the usual way (their index is brought up to date on flush).
    """
    if h5.isopen and h5._iswritable():
        manager = h5._node_manager
        nodes = [h5.get_node(path) for path in list(manager.cache)]
        nodes += list(manager.registry.values())
        for node in nodes:
            if isinstance(node, tables.Table) and node._v_isopen and not node.indexed:
                if "row" in node.__dict__:
                    node.row._flush_buffered_rows()
                node._f_close(flush=False)
    h5.close()


@contextlib.contextmanager
def written(h5: tables.File) -> Iterator[tables.File]:
    """Yield ``h5`` (opened for writing); close it after the block with
    :func:`close_written`, or plainly if the block (or that close) raises."""
    try:
        yield h5
        close_written(h5)
    finally:
        if h5.isopen:
            h5.close()


@contextlib.contextmanager
def replacing(path: Path, fresh: bool, fsync: bool, title: str = "",
              filters: tables.Filters | None = None) -> Iterator[tables.File]:
    """Yield a writable copy of ``path`` (or a new file); it replaces ``path`` on success.

    If the block raises, or the process dies, ``path`` is untouched.
    """
    temporary = temporary_name(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if temporary.exists():
        temporary.unlink()
    if not fresh and path.exists():
        open_for_reading(path).close()  # refuse to build on a damaged file
        copy_file(path, temporary)
        handle = tables.open_file(str(temporary), mode="a")
    else:
        handle = tables.open_file(str(temporary), mode="w", title=title or "", filters=filters)
    try:
        with written(handle):
            yield handle
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    commit_temporary(temporary, path, fsync)
