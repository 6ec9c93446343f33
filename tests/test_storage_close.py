"""Closing a written file flushes it once, not once per open table (``files.close_written``)."""

from __future__ import annotations

import numpy as np
import pytest
import tables

from distenv.storage.files import close_written


def _write(path, row_appends: bool):
    h5 = tables.open_file(str(path), mode="w")
    for number in range(12):
        table = h5.create_table("/", "t%d" % number, np.dtype([("a", "i8"), ("b", "f8")]))
        if row_appends:  # rows wait in the table's buffer until a flush
            row = table.row
            for value in range(100):
                row["a"], row["b"] = value, value / 2
                row.append()
        else:
            table.append(np.array([(value, value / 2) for value in range(100)],
                                  dtype=table.dtype))
    h5.create_array("/", "array", obj=np.arange(5))
    return h5


@pytest.mark.parametrize("row_appends", [False, True])
def test_close_written_keeps_every_row_and_flushes_the_file_once(tmp_path, monkeypatch,
                                                                 row_appends):
    path = tmp_path / "f.h5"
    h5 = _write(path, row_appends)
    flushes = []
    original = tables.Leaf.flush
    monkeypatch.setattr(tables.Leaf, "flush", lambda self: (flushes.append(self._v_pathname),
                                                            original(self)))
    close_written(h5)
    monkeypatch.undo()
    assert flushes == []  # PyTables' own close flushes the whole file for each table
    assert not h5.isopen
    with tables.open_file(str(path)) as reread:
        for number in range(12):
            table = reread.get_node("/t%d" % number)
            assert table.col("a").tolist() == list(range(100))
            assert table.col("b").tolist() == [value / 2 for value in range(100)]
        assert reread.root.array.read().tolist() == [0, 1, 2, 3, 4]


def test_close_written_of_a_file_opened_for_reading_or_closed(tmp_path):
    path = tmp_path / "f.h5"
    close_written(_write(path, False))
    h5 = tables.open_file(str(path))
    h5.root.t0.read()
    close_written(h5)
    assert not h5.isopen
    close_written(h5)  # closed already: nothing to do


def test_an_indexed_table_closes_the_usual_way(tmp_path):
    path = tmp_path / "f.h5"
    h5 = tables.open_file(str(path), mode="w")
    table = h5.create_table("/", "t", np.dtype([("a", "i8")]))
    table.cols.a.create_index()
    row = table.row
    for value in range(50):
        row["a"] = 49 - value
        row.append()
    close_written(h5)
    with tables.open_file(str(path)) as reread:
        table = reread.root.t
        assert table.indexed and table.cols.a.index.nelements == 50
        assert [row["a"] for row in table.where("a < 3")] == [2, 1, 0]


def test_written_closes_the_file_after_the_block_and_when_it_raises(tmp_path):
    from distenv.storage.files import written
    with written(tables.open_file(str(tmp_path / "ok.h5"), mode="w")) as h5:
        h5.create_table("/", "t", obj=np.zeros(3, dtype=[("a", "i8")]))
    assert not h5.isopen
    with tables.open_file(str(tmp_path / "ok.h5")) as reread:
        assert reread.root.t.nrows == 3
    with pytest.raises(ValueError, match="in the block"):
        with written(tables.open_file(str(tmp_path / "bad.h5"), mode="w")) as broken:
            broken.create_table("/", "t", obj=np.zeros(3, dtype=[("a", "i8")]))
            raise ValueError("in the block")
    assert not broken.isopen
