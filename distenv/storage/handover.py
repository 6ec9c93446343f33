"""A pool worker's last runs, handed to the main process instead of a journal shard.

When a pool worker of the NONE or LOCK storage mode exits at the end of a sweep, it holds the
runs it made since its last acknowledgement (at most ``ack_seconds`` of work). It used to write
them as one more journal shard: an HDF5 file made, fsynced and renamed (20 - 30 ms for 10,000
trivial runs), which the main process opened and read again right after, in its last store,
while nothing else ran. Now the worker packs them into columns, as the shard would hold them,
and leaves them in the journal folder as one uncompressed file of plain arrays (see
:func:`write_arrays`: no pickle, nothing but dtypes, shapes and bytes), written to a temporary
name and renamed, not fsynced: a few ms. The main process's next store takes them in with the
shards.

Such a file is in transit, not acknowledged: loading, merging and ``distenv info`` do not
read it, and it is named after the process that takes it in (the main process, the *owner*):

- the owner's next store takes it in (and lists it in the journal log, as it does shards);
- if the owner ends without such a store (an exception, ``sys.exit``), an ``atexit`` hook
  turns each of its files into an ordinary, fsynced journal shard (:func:`persist`);
- if the owner is killed (``kill -9``), the next store of any process on that host removes
  the file (its owner is gone): those runs were never acknowledged, and ``resume`` makes
  them again. That is the one difference from a shard, and the window is short (from the
  worker's exit to the end of the last store).

A batch that holds more than columns (irregular values, leaves stored by the job with
``f_store``) is written as a shard as before.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import tables

from distenv.errors import CorruptFileError
from distenv.storage import column_tables, layout
from distenv.storage.codecs import Context
from distenv.storage.batch import RunBatch
from distenv.storage.journal import HOST_TAG, commit_shard, new_paths, reserve
from distenv.trajectory.columns import pack

SUFFIX = ".handover"
#: The first bytes of a hand-over file (the format's version is the last one).
MAGIC = b"DISTHAND\x01"
#: Arrays start at multiples of this many bytes.
_ALIGN = 64


def hand_over(directory: Path, owner: int, batch: RunBatch, ctx: Context) -> Path | None:
    """Leave ``batch`` for process ``owner`` in ``directory``; its path, or ``None`` when the
    batch is empty or holds more than columns (write a shard then)."""
    if not batch.count or batch.irregular or batch.static:
        return None
    rows = batch.rows
    arrays = {"runs": layout.run_rows_array(rows), "errors": layout.error_rows(rows)}
    columns = []
    for number, (key, buffer) in enumerate(batch.columns.items()):
        if not buffer.run_index:
            continue
        arrays["i%d" % number] = np.array(buffer.run_index, dtype=np.int64)
        items = {}
        for position, (item, values) in enumerate(buffer.values.items()):
            items[item] = name = "c%d_%d" % (number, position)
            arrays[name] = pack(buffer.signatures[item], values, ctx.encoding)
        columns.append({"key": key, "leaf_class": buffer.leaf_class, "comment": buffer.comment,
                        "encoding": ctx.encoding, "index": "i%d" % number, "items": items,
                        "signatures": {item: layout.sig_to_attr(sig)
                                       for item, sig in buffer.signatures.items()}})
    if any(array.dtype.hasobject for array in arrays.values()):
        return None
    final, temporary = new_paths(directory, os.getpid(), str(owner), SUFFIX)
    reserve(temporary)  # a temporary of a writer that dies is removed like a shard's
    try:
        write_arrays(temporary, arrays, {"columns": columns})
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return final


def write_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` and the JSON-able ``meta`` to ``path``: :data:`MAGIC`, the length of a
    JSON header (8 bytes, little-endian), the header (``meta`` and each array's dtype, shape,
    offset and size), then the arrays' bytes, each aligned to 64 bytes. ``numpy.savez`` made a
    zip of ``.npy`` files: reading one back took ~3 ms (a CRC per member) where this takes a
    read and a view per array."""
    entries, offset = {}, 0
    for name, array in arrays.items():
        if array.dtype.hasobject:
            raise ValueError("array %r holds Python objects, which are not written" % name)
        offset += -offset % _ALIGN
        entries[name] = {"dtype": np.lib.format.dtype_to_descr(array.dtype),
                         "shape": list(array.shape), "offset": offset, "nbytes": array.nbytes}
        offset += array.nbytes
    header = json.dumps({"meta": meta, "arrays": entries}).encode("utf-8")
    start = len(MAGIC) + 8 + len(header)
    start += -start % _ALIGN
    with open(path, "wb") as stream:
        stream.write(MAGIC + len(header).to_bytes(8, "little") + header)
        stream.write(b"\0" * (start - stream.tell()))
        for name, array in arrays.items():
            if array.nbytes:
                stream.write(b"\0" * (start + entries[name]["offset"] - stream.tell()))
                stream.write(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)


def read_arrays(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, meta)`` of a file :func:`write_arrays` made (views of one read of it)."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError("not a hand-over file of this version (it starts with %r)"
                         % data[:len(MAGIC)])
    size = int.from_bytes(data[len(MAGIC):len(MAGIC) + 8], "little")
    end = len(MAGIC) + 8 + size
    if end > len(data):
        raise ValueError("the file ends inside its header")
    header = json.loads(data[len(MAGIC) + 8:end].decode("utf-8"))
    start = end + -end % _ALIGN
    arrays = {}
    for name, entry in header["arrays"].items():
        dtype = np.lib.format.descr_to_dtype(_tuples(entry["dtype"]))
        shape = tuple(int(length) for length in entry["shape"])
        offset, nbytes = start + int(entry["offset"]), int(entry["nbytes"])
        if dtype.hasobject or (nbytes and offset + nbytes > len(data)) or \
                nbytes != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError("array %r does not fit the file" % name)
        arrays[name] = np.frombuffer(data, dtype=dtype, count=nbytes // max(dtype.itemsize, 1),
                                     offset=offset).reshape(shape) if nbytes else \
            np.empty(shape, dtype=dtype)
    return arrays, header["meta"]


def _tuples(descr: Any) -> Any:
    """A dtype description as JSON gave it back (lists where numpy wrote tuples)."""
    if isinstance(descr, list):
        return [tuple(_tuples(part) for part in field) for field in descr]
    return descr


def ready(directory: Path, owner: int) -> list[Path]:
    """The files in ``directory`` that process ``owner`` takes in, oldest first. Files of
    owners on this host that no longer run are removed (their runs were never acknowledged)."""
    from distenv.storage.files import _alive
    if not directory.is_dir():
        return []
    mine = []
    for path in directory.iterdir():
        parts = path.name[:-len(SUFFIX)].split("-")
        if path.name.startswith(".") or not path.name.endswith(SUFFIX) or len(parts) != 4 \
                or parts[1] != HOST_TAG or not parts[3].isdigit():
            continue
        if int(parts[3]) == owner:
            mine.append(path)
        elif not _alive(int(parts[3])):
            path.unlink(missing_ok=True)
    return sorted(mine)


def read(path: Path) -> tuple[np.ndarray, np.ndarray, list[tuple[dict, np.ndarray, dict]]]:
    """``(run-table rows, error rows, [(column meta, run index, {item: array}), ...])``."""
    try:
        data, meta = read_arrays(path)
        columns = []
        for entry in meta["columns"]:
            index, items = entry.pop("index"), entry.pop("items")
            entry["signatures"] = {item: layout.sig_from_attr(text)
                                   for item, text in entry["signatures"].items()}
            columns.append((entry, data[index],
                            {item: data[name] for item, name in items.items()}))
        return data["runs"], data["errors"], columns
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptFileError("the runs a pool worker handed over in %s cannot be read (%s); "
                               "delete the file: its runs were not acknowledged and resume "
                               "makes them again" % (path, exc)) from exc


def persist(directory: Path, trajectory_name: str, owner: int, ctx: Context,
            fsync: bool = True) -> list[Path]:
    """Turn the files of ``owner`` in ``directory`` into ordinary journal shards."""
    shards = []
    for number, path in enumerate(ready(directory, owner)):
        shards.append(commit_shard(directory, os.getpid(), "%06d" % number, trajectory_name,
                                   _Handed(*read(path)), ctx, fsync))
        path.unlink()
    return shards


class _Handed:
    """What :func:`read` returns, written into a shard as a :class:`RunBatch` would be."""

    def __init__(self, runs: np.ndarray, errors: np.ndarray, columns: list):
        self.runs, self.errors, self.columns = runs, errors, columns

    def write(self, h5: tables.File, group: tables.Group, ctx: Context) -> None:
        layout.append_run_table(h5, group, self.runs, ctx.filters)
        if len(self.errors):
            layout.append_error_rows(h5, group, self.errors, ctx.filters)
        for meta, run_index, arrays in self.columns:
            column_tables.append_column(h5, group, meta["key"], meta["leaf_class"],
                                        meta["comment"], meta["signatures"], run_index, arrays,
                                        ctx)


# -- the owner's side: what its stores did not take in becomes shards at its exit -------------
_watched: dict[tuple[Path, str], Any] = {}
_watch_lock = threading.Lock()


def watch(service: Any, trajectory_name: str) -> None:
    """This process owns the files its pool workers leave for ``trajectory_name`` of
    ``service``: at exit, persist what is left of them."""
    with _watch_lock:
        if not _watched:
            atexit.register(_persist_watched)
        _watched[(Path(service.journal_dir(trajectory_name)), trajectory_name)] = service


def _persist_watched() -> None:
    owner = os.getpid()
    for (directory, name), service in list(_watched.items()):
        try:
            persist(directory, name, owner, service.shard_ctx, service.fsync)
        except Exception as exc:  # at exit: say it, do not hide the other folders
            import logging
            logging.getLogger("distenv.storage").error(
                "runs handed over by pool workers in %s could not be kept as journal shards: "
                "%s; they were not acknowledged and resume makes them again", directory, exc)


def _forget_in_child() -> None:
    _watched.clear()


os.register_at_fork(after_in_child=_forget_in_child)
