"""Appending many rows to a table, with the compression done in threads.

HDF5 runs its filters (shuffle, then deflate) chunk by chunk in the calling thread, and the
copy bundled with PyTables is slow at it: for the 20,000 runs of a trivial sweep it took
about 50 ms, 2.3x numpy's byte shuffle plus Python's ``zlib`` on the same chunks. A
compaction appends whole columns at once, so :func:`append_rows` filters the full chunks
itself -- in a thread per core (``zlib`` releases the GIL) -- and writes them as they are
(``Leaf.write_chunk``, HDF5's direct chunk write); the rows before the first chunk boundary
and after the last one go through HDF5 as usual. What is stored is byte for byte what HDF5's
own filters would have made of the same data with the same ``zlib`` (any reader decodes it).

Only for what this module can reproduce exactly: zlib, optional shuffle, no checksum, a table
whose file layout is the memory layout of the rows. Anything else is appended normally.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import threading
import zlib
from collections.abc import Iterator

import numpy as np
import tables

#: Below this many full chunks the threads cost more than they save.
MIN_CHUNKS = 2

_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _threads() -> concurrent.futures.ThreadPoolExecutor:
    """One pool per process, made on first use (making one costs ~2 ms); a forked child
    makes its own (threads do not survive a fork)."""
    global _pool
    if _pool is None:
        _pool = concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1,
                                                      thread_name_prefix="distenv-deflate")
    return _pool


def _forget_pool() -> None:
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


def small_chunkshape(rows: int, row_bytes: int) -> tuple[int]:
    """Rows per chunk for a small table: its rows (at least 16), at most 64 KiB.

    HDF5 compresses a table's whole chunks when it closes. PyTables sizes the chunk of a table
    expected to hold a few rows at 64 KiB, and compressing that (shuffle, zlib level 9) took
    ~1.2 ms per table, eleven times in each store for the overview tables and the journal log:
    with chunks of their size it takes ~0.2 ms.
    """
    return (max(1, min(max(rows, 16), 65536 // max(row_bytes, 1))),)


def create_table(h5: tables.File, parent: tables.Group, name: str, data: np.ndarray,
                 filters: tables.Filters, expectedrows: int, **keywords) -> tables.Table:
    """``h5.create_table(parent, name, obj=data, ...)``, the rows written by
    :func:`append_rows`."""
    table = h5.create_table(parent, name, description=data.dtype, filters=filters,
                            expectedrows=max(expectedrows, len(data)), **keywords)
    append_rows(table, data)
    return table


def append_rows(table: tables.Table, data: np.ndarray) -> None:
    """``table.append(data)``; full chunks are filtered in threads and written directly.

    Inside :func:`overlapped` the chunks are written when the block ends (or before the same
    table is appended to again), so that the caller goes on while the threads compress.
    """
    overlapping = getattr(_local, "overlapping", None)
    if overlapping is not None and table in overlapping:
        overlapping.pop(table).finish()
    chunk_rows = _direct_chunk_rows(table, data)
    if chunk_rows is None:
        table.append(data)
        return
    start = table.nrows
    head = (-start) % chunk_rows  # rows that complete the chunk the table ends in
    body = (len(data) - head) // chunk_rows * chunk_rows
    if body < MIN_CHUNKS * chunk_rows:
        table.append(data)
        return
    if head:
        table.append(data[:head])
    rows = np.ascontiguousarray(data[head:head + body])
    filters = table.filters
    pieces = [rows[offset:offset + chunk_rows] for offset in range(0, body, chunk_rows)]
    write = _ChunkWrite(table, start + head, chunk_rows, data[head + body:],
                        [_threads().submit(_filtered, piece, filters) for piece in pieces])
    if overlapping is None:
        write.finish()
    else:
        overlapping[table] = write


class _ChunkWrite:
    """Full chunks being filtered in threads, and the rows that follow them."""

    def __init__(self, table: tables.Table, first: int, chunk_rows: int, tail: np.ndarray,
                 blobs: list[concurrent.futures.Future]):
        self.table, self.first, self.chunk_rows = table, first, chunk_rows
        self.tail, self.blobs = tail, blobs

    def finish(self) -> None:
        table, first = self.table, self.first
        blobs = [future.result() for future in self.blobs]
        table.flush()
        table.truncate(first + len(blobs) * self.chunk_rows)  # grows it; writes no chunk
        for number, blob in enumerate(blobs):
            table.write_chunk((first + number * self.chunk_rows,), blob)
        if len(self.tail):
            table.append(self.tail)

    def abandon(self) -> None:
        concurrent.futures.wait(self.blobs)


#: ``overlapping``: the chunk writes waiting for the end of this thread's :func:`overlapped`.
_local = threading.local()


@contextlib.contextmanager
def overlapped() -> Iterator[None]:
    """Let the :func:`append_rows` of the block compress in the threads while the block goes
    on: the chunks are written at its end. Nothing in the block may read the rows it appends
    (a table's own next append is fine). Without it the appends of a store wait for their
    compression one after another (16 ms of the last store of 20,000 runs, in three tables).
    Per thread: a store in another thread has its own block."""
    if getattr(_local, "overlapping", None) is not None:  # nested: the outer block writes
        yield
        return
    overlapping: dict[tables.Table, _ChunkWrite] = {}
    _local.overlapping = overlapping
    try:
        yield
        while overlapping:
            overlapping.pop(next(iter(overlapping))).finish()
    finally:
        _local.overlapping = None
        for write in overlapping.values():  # the block failed: the file is given up
            write.abandon()


def _direct_chunk_rows(table: tables.Table, data: np.ndarray) -> int | None:
    """Rows per chunk if this table's chunks can be filtered here, else ``None``."""
    filters = table.filters
    if filters.complib != "zlib" or not filters.complevel or filters.fletcher32 or \
            filters.bitshuffle or filters.least_significant_digit is not None:
        return None
    chunkshape = table.chunkshape
    if chunkshape is None or len(chunkshape) != 1 or data.dtype != table.dtype:
        return None
    if table.byteorder not in (sys.byteorder, "irrelevant") or not _packed(data.dtype):
        return None
    return int(chunkshape[0])


def _packed(dtype: np.dtype) -> bool:
    """Fields back to back in declaration order, native order, no padding, no objects: the
    layout PyTables gives the table in the file."""
    if dtype.fields is None or dtype.hasobject:
        return False
    offset = 0
    for name in dtype.names:
        field, position = dtype.fields[name][:2]
        if position != offset or field.subdtype is None and field.fields is not None:
            return False
        base = field.subdtype[0] if field.subdtype is not None else field
        if base.byteorder == (">" if sys.byteorder == "little" else "<"):
            return False
        offset += field.itemsize
    return offset == dtype.itemsize


def _filtered(rows: np.ndarray, filters: tables.Filters) -> bytes:
    """One chunk through HDF5's pipeline: byte shuffle (element = row), then deflate."""
    raw = rows.view(np.uint8).reshape(len(rows), rows.dtype.itemsize)
    if filters.shuffle:
        raw = raw.T
    return zlib.compress(np.ascontiguousarray(raw).data, filters.complevel)
