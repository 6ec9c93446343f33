"""Appending rows with the full chunks deflated in threads and written directly
(``storage/chunks.py``): the file holds what a plain ``Table.append`` stores, byte for byte,
for every offset at which appends start and end; what the module cannot reproduce is
appended normally. Real files."""

from __future__ import annotations

import numpy as np
import pytest
import tables

from distenv.storage import chunks

ROW = np.dtype([("run_index", "<i8"), ("z", "<f8"), ("name", "S12"), ("arr", "<f8", (3,))])


def rows(start, count, dtype=ROW):
    data = np.zeros(count, dtype=dtype)
    data["run_index"] = np.arange(start, start + count)
    data["z"] = np.sqrt(data["run_index"])
    if "name" in dtype.names:
        data["name"] = [b"run_%08d" % index for index in data["run_index"]]
    if "arr" in dtype.names:
        data["arr"] = data["z"][:, None] * np.arange(3)
    return data


def written(path, parts, filters, direct, chunkshape=(100,)):
    with tables.open_file(str(path), "w") as h5:
        table = h5.create_table("/", "t", description=parts[0].dtype, filters=filters,
                                chunkshape=chunkshape)
        for part in parts:
            if direct:
                chunks.append_rows(table, part)
            else:
                table.append(part)
    with tables.open_file(str(path)) as h5:
        table = h5.root.t
        stored = [table.read_chunk((start,)) for start in range(0, table.nrows, 100)
                  if start + 100 <= table.nrows]
        return table.read(), stored


@pytest.mark.parametrize("sizes", [[1000], [950, 1050], [37, 463, 1200, 5], [250, 250],
                                   [100, 300, 1]])
@pytest.mark.parametrize("filters", [tables.Filters(9, "zlib", shuffle=True),
                                     tables.Filters(1, "zlib", shuffle=False)],
                         ids=["zlib9-shuffle", "zlib1"])
def test_the_same_rows_and_the_same_chunk_bytes_as_a_plain_append(tmp_path, sizes, filters):
    parts, start = [], 0
    for size in sizes:
        parts.append(rows(start, size))
        start += size
    plain, plain_chunks = written(tmp_path / "plain.h5", parts, filters, direct=False)
    direct, direct_chunks = written(tmp_path / "direct.h5", parts, filters, direct=True)
    assert direct.dtype == plain.dtype and direct.tobytes() == plain.tobytes()
    assert direct_chunks == plain_chunks  # what HDF5's own filters make (same zlib)


@pytest.mark.parametrize("filters", [tables.Filters(0), tables.Filters(5, "blosc:lz4"),
                                     tables.Filters(5, "zlib", fletcher32=True),
                                     tables.Filters(5, "blosc2:zstd", bitshuffle=True)],
                         ids=["none", "blosc", "fletcher32", "blosc2-bitshuffle"])
def test_filters_it_cannot_reproduce_are_left_to_hdf5(tmp_path, filters):
    with tables.open_file(str(tmp_path / "f.h5"), "w") as h5:
        table = h5.create_table("/", "t", description=ROW, filters=filters, chunkshape=(100,))
        assert chunks._direct_chunk_rows(table, rows(0, 10)) is None
        chunks.append_rows(table, rows(0, 1000))
        assert table.read().tobytes() == rows(0, 1000).tobytes()


def test_rows_of_another_layout_are_left_to_hdf5(tmp_path):
    big_endian = np.dtype([("run_index", ">i8"), ("z", ">f8")])
    aligned = np.dtype([("flag", "i1"), ("z", "<f8")], align=True)
    with tables.open_file(str(tmp_path / "f.h5"), "w") as h5:
        for name, dtype in (("big", big_endian), ("aligned", aligned)):
            table = h5.create_table("/", name, description=dtype,
                                    filters=tables.Filters(5, "zlib"), chunkshape=(100,))
            data = np.zeros(1000, dtype=dtype)
            data["z"] = np.arange(1000)
            assert chunks._direct_chunk_rows(table, data) is None
        aligned_table = h5.root.aligned
        chunks.append_rows(aligned_table, np.zeros(1000, dtype=aligned))
        assert aligned_table.nrows == 1000  # HDF5's own append, as without this module


def test_create_table_makes_the_table_append_would(tmp_path):
    data = rows(0, 5000)
    with tables.open_file(str(tmp_path / "f.h5"), "w") as h5:
        table = chunks.create_table(h5, h5.root, "t", data, tables.Filters(9, "zlib", shuffle=True),
                                    expectedrows=10000, title="runs")
        assert table.title == "runs" and table.nrows == 5000
    with tables.open_file(str(tmp_path / "f.h5")) as h5:
        assert h5.root.t.read().tobytes() == data.tobytes()


def test_overlapped_appends_write_the_same_bytes_when_the_block_ends(tmp_path):
    filters = tables.Filters(9, "zlib", shuffle=True)
    parts = [rows(0, 950), rows(950, 1050), rows(2000, 430)]
    plain, plain_chunks = written(tmp_path / "plain.h5", parts, filters, direct=False)
    with tables.open_file(str(tmp_path / "o.h5"), "w") as h5:
        table = h5.create_table("/", "t", description=ROW, filters=filters, chunkshape=(100,))
        other = h5.create_table("/", "u", description=ROW, filters=filters, chunkshape=(100,))
        with chunks.overlapped():
            chunks.append_rows(table, parts[0])
            with chunks.overlapped():  # nested: the outer block writes
                chunks.append_rows(other, parts[1])
            assert other.nrows == 0  # the chunks are written when the outer block ends
            chunks.append_rows(table, parts[1])  # its own earlier chunks are written first
            chunks.append_rows(table, parts[2])
        assert chunks._local.overlapping is None and other.nrows == 1050
    with tables.open_file(str(tmp_path / "o.h5")) as h5:
        stored = [h5.root.t.read_chunk((start,)) for start in range(0, 2400, 100)]
        assert h5.root.t.read().tobytes() == plain.tobytes() and stored == plain_chunks
        assert h5.root.u.read().tobytes() == parts[1].tobytes()


def test_a_failing_overlapped_block_waits_for_its_threads_and_writes_nothing(tmp_path):
    with tables.open_file(str(tmp_path / "f.h5"), "w") as h5:
        table = h5.create_table("/", "t", description=ROW,
                                filters=tables.Filters(9, "zlib", shuffle=True),
                                chunkshape=(100,))
        with pytest.raises(RuntimeError, match="store failed"):
            with chunks.overlapped():
                chunks.append_rows(table, rows(0, 1000))
                raise RuntimeError("store failed")
        assert chunks._local.overlapping is None and table.nrows == 0
