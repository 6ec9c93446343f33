"""A pool worker's last runs, handed to the main process instead of a journal shard.

When a pool worker of the NONE or LOCK storage mode exits at the end of a sweep, it holds the
runs it made since its last acknowledgement (at most ``ack_seconds`` of work). It used to write
them as one more journal shard: an HDF5 file made, fsynced and renamed (20 - 30 ms for 10,000
trivial runs), which the main process opened and read again right after, in its last store,
while nothing else ran. Now the worker packs them into columns, as the shard would hold them,
and leaves them in the journal folder as an uncompressed ``.npz`` file (``numpy.savez``, no
pickle: :func:`read` loads it with ``allow_pickle=False``), written to a temporary name and
renamed, not fsynced: a few ms. The main process's next store takes them in with the shards.

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
import zipfile
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

SUFFIX = ".handover.npz"


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
    arrays["columns"] = np.frombuffer(json.dumps(columns).encode("utf-8"), dtype=np.uint8)
    final, temporary = new_paths(directory, os.getpid(), str(owner), SUFFIX)
    reserve(temporary)  # a temporary of a writer that dies is removed like a shard's
    try:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return final


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
        with np.load(path, allow_pickle=False) as data:
            columns = []
            for meta in json.loads(bytes(data["columns"]).decode("utf-8")):
                index, items = meta.pop("index"), meta.pop("items")
                meta["signatures"] = {item: layout.sig_from_attr(text)
                                      for item, text in meta["signatures"].items()}
                columns.append((meta, data[index],
                                {item: data[name] for item, name in items.items()}))
            return data["runs"], data["errors"], columns
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
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
