"""Every storage option of the seeds, checked in the file itself (plain PyTables / h5py)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import tables

from distenv import HDF5StorageService, Trajectory, load_trajectory
from distenv.constants import OVERVIEW_MAX_ROWS
from distenv.errors import CompressionUnavailableError, ConfigurationError
from helpers.runs import run_sweep

ARRAY = np.arange(10000, dtype=np.float64) % 7  # compressible


def _sweep(path, runs=4, **options):
    traj = Trajectory("opts", filename=str(path), **options)
    traj.f_add_parameter("x", 1.0, comment="the x")
    traj.f_add_config("cfg", "value")
    traj.f_add_result("big", ARRAY, comment="static array")
    traj.f_explore({"x": [float(i) for i in range(runs)]})

    def job(t):
        t.f_add_result("z", t.x * 2, comment="doubled")
        t.f_add_result("d", {"x": t.x}, comment="a dict per run")
        t.f_add_derived_parameter("half", t.x / 2, comment="halved")

    run_sweep(traj, job)
    return traj


# -- filename ----------------------------------------------------------------------------------
def test_default_filename_is_hdf5_folder_in_cwd(tmp_path):
    traj = Trajectory("defaulted")
    traj.f_add_parameter("x", 1)
    traj.f_store()
    assert os.getcwd() == str(tmp_path)
    assert (tmp_path / "hdf5" / "defaulted.hdf5").is_file()
    assert load_trajectory(filename="hdf5/defaulted.hdf5").x == 1


@pytest.mark.parametrize("folder", ["out/", "out/nested/", "out" + os.sep])
def test_folder_only_filename_gets_the_trajectory_name(tmp_path, folder):
    traj = Trajectory("in_folder", filename=folder)
    traj.f_add_parameter("x", 1)
    traj.f_store()
    path = tmp_path / folder / "in_folder.hdf5"
    assert path.is_file()
    assert load_trajectory(filename=str(path)).x == 1


def test_existing_folder_without_slash(tmp_path):
    (tmp_path / "existing").mkdir()
    traj = Trajectory("named", filename=str(tmp_path / "existing"))
    traj.f_add_parameter("x", 1)
    traj.f_store()
    assert (tmp_path / "existing" / "named.hdf5").is_file()


def test_filename_must_be_a_path():
    with pytest.raises(ConfigurationError):
        HDF5StorageService(filename=42)


# -- title, overwrite ------------------------------------------------------------------------
def test_file_title(tmp_path):
    _sweep(tmp_path / "t.hdf5", file_title="My experiment é")
    with tables.open_file(str(tmp_path / "t.hdf5")) as h5:
        assert h5.title == "My experiment é"
    with h5py.File(tmp_path / "t.hdf5", "r") as h5:
        title = h5.attrs["TITLE"]
        assert (title.decode() if isinstance(title, bytes) else title) == "My experiment é"


def test_file_title_defaults_to_trajectory_name(tmp_path):
    _sweep(tmp_path / "t.hdf5")
    with tables.open_file(str(tmp_path / "t.hdf5")) as h5:
        assert h5.title == "opts"


def test_overwrite_file_replaces_the_whole_file(tmp_path):
    path = tmp_path / "o.hdf5"
    first = Trajectory("first", filename=str(path))
    first.f_add_parameter("x", 1)
    first.f_store()
    second = Trajectory("second", filename=str(path))
    second.f_add_parameter("y", 2)
    second.f_store()
    assert HDF5StorageService(filename=str(path)).trajectory_names() == ["first", "second"]
    third = Trajectory("third", filename=str(path), overwrite_file=True)
    third.f_add_parameter("z", 3)
    third.f_store()
    third.f_add_result("later", 4)
    third.f_store()  # a second store adds to the new file; it does not overwrite again
    assert HDF5StorageService(filename=str(path)).trajectory_names() == ["third"]
    loaded = load_trajectory(filename=str(path))
    assert loaded.z == 3 and loaded.later == 4


def test_overwrite_file_can_reuse_a_trajectory_name(tmp_path):
    path = tmp_path / "o.hdf5"
    for value in (1, 2):
        traj = Trajectory("same", filename=str(path), overwrite_file=True)
        traj.f_add_parameter("x", value)
        traj.f_store()
    assert load_trajectory(filename=str(path)).x == 2


# -- filters -------------------------------------------------------------------------------------
def _filters_of(path, node="/opts/results/big/big"):
    with tables.open_file(str(path)) as h5:
        return h5.get_node(node).filters


def test_blosc2(tmp_path):
    """blosc2 works too (kept small: every table write with blosc2 is slow on this machine)."""
    path = tmp_path / "b2.hdf5"
    traj = Trajectory("opts", filename=str(path), complib="blosc2", complevel=5,
                      small_overview_tables=False, summary_tables=False)
    traj.f_add_result("big", ARRAY)
    traj.f_store()
    filters = _filters_of(path)
    assert filters.complib == "blosc2" and filters.complevel == 5
    np.testing.assert_array_equal(load_trajectory(filename=str(path)).big, ARRAY)


@pytest.mark.parametrize("complib", ["zlib", "blosc", "bzip2", "blosc:lz4"])
def test_complib_is_applied(tmp_path, complib):
    if tables.which_lib_version(complib.split(":")[0]) is None:
        pytest.fail("%s should be in PyTables' wheels" % complib)
    path = tmp_path / ("%s.hdf5" % complib.replace(":", "_"))
    _sweep(path, complib=complib, complevel=5)
    filters = _filters_of(path)
    assert filters.complib == complib and filters.complevel == 5
    column = _filters_of(path, "/opts/results/runs/crun/z")
    assert column.complib == complib and column.complevel == 5
    np.testing.assert_array_equal(load_trajectory(filename=str(path)).big, ARRAY)


def test_zlib_is_readable_by_h5py_as_gzip(tmp_path):
    _sweep(tmp_path / "z.hdf5", complib="zlib", complevel=4, shuffle=True, fletcher32=True)
    with h5py.File(tmp_path / "z.hdf5", "r") as h5:
        dataset = h5["/opts/results/big/big"]
        assert dataset.compression == "gzip" and dataset.compression_opts == 4
        assert dataset.shuffle and dataset.fletcher32
        np.testing.assert_array_equal(dataset[()], ARRAY)


def test_lzo_works_or_says_what_is_available(tmp_path):
    if tables.which_lib_version("lzo") is not None:
        _sweep(tmp_path / "l.hdf5", complib="lzo")
        assert _filters_of(tmp_path / "l.hdf5").complib == "lzo"
        return
    with pytest.raises(CompressionUnavailableError) as info:
        Trajectory("lzo", filename=str(tmp_path / "l.hdf5"), complib="lzo")
    message = str(info.value)
    assert "lzo" in message and "not available" in message and "zlib" in message
    assert isinstance(info.value, ConfigurationError) and isinstance(info.value, ValueError)
    assert not (tmp_path / "l.hdf5").exists()


@pytest.mark.parametrize("complib", ["nope", "gzip", "", None, 3])
def test_unknown_complib_is_a_clear_error(tmp_path, complib):
    with pytest.raises(CompressionUnavailableError) as info:
        HDF5StorageService(filename=str(tmp_path / "x.hdf5"), complib=complib)
    assert "zlib" in str(info.value) and "blosc" in str(info.value)


@pytest.mark.parametrize("complevel", [-1, 10, "9", 2.5, True])
def test_bad_complevel(tmp_path, complevel):
    with pytest.raises(ConfigurationError, match="complevel"):
        HDF5StorageService(filename=str(tmp_path / "x.hdf5"), complevel=complevel)


def test_complevel_zero_means_uncompressed(tmp_path):
    _sweep(tmp_path / "raw.hdf5", complevel=0)
    _sweep(tmp_path / "packed.hdf5", complevel=9)
    assert _filters_of(tmp_path / "raw.hdf5").complevel == 0
    with h5py.File(tmp_path / "raw.hdf5", "r") as h5:
        assert h5["/opts/results/big/big"].compression is None
    assert os.path.getsize(tmp_path / "packed.hdf5") < os.path.getsize(tmp_path / "raw.hdf5")


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("fletcher32", [True, False])
def test_shuffle_and_fletcher32(tmp_path, shuffle, fletcher32):
    _sweep(tmp_path / "f.hdf5", shuffle=shuffle, fletcher32=fletcher32, complevel=3)
    filters = _filters_of(tmp_path / "f.hdf5")
    assert filters.shuffle is shuffle and filters.fletcher32 is fletcher32
    with h5py.File(tmp_path / "f.hdf5", "r") as h5:
        assert h5["/opts/results/big/big"].shuffle is shuffle
        assert h5["/opts/results/big/big"].fletcher32 is fletcher32
        assert h5["/opts/results/runs/crun/z"].fletcher32 is fletcher32


# -- pandas ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, alias, pandas_type", [("fixed", "f", "frame"),
                                                     ("table", "t", "frame_table")])
def test_pandas_format(tmp_path, fmt, alias, pandas_type):
    frame = pd.DataFrame({"a": np.arange(50), "b": np.linspace(0, 1, 50)})
    for name in (fmt, alias):
        path = tmp_path / ("%s.hdf5" % name)
        traj = Trajectory("frames", filename=str(path), pandas_format=name, complevel=5)
        traj.f_add_result("frame", frame)
        traj.f_store()
        with tables.open_file(str(path)) as h5:
            node = h5.get_node("/frames/results/frame/frame")
            assert node._v_attrs.pandas_type == pandas_type
            filters = [leaf.filters for leaf in node._f_walknodes("Leaf")]
            assert any(f.complevel == 5 for f in filters)  # compression reaches pandas data
        # plain pandas reads it without distenv
        pd.testing.assert_frame_equal(pd.read_hdf(path, "/frames/results/frame/frame"), frame)
        pd.testing.assert_frame_equal(load_trajectory(filename=str(path)).frame, frame)
    if fmt == "table":  # queryable
        selected = pd.read_hdf(tmp_path / "table.hdf5", "/frames/results/frame/frame",
                               where="index < 3")
        assert len(selected) == 3


def test_bad_pandas_format():
    with pytest.raises(ConfigurationError, match="pandas_format"):
        HDF5StorageService(pandas_format="csv")


def test_bad_encoding():
    with pytest.raises(ConfigurationError, match="encoding"):
        HDF5StorageService(encoding="no-such-codec")


# -- overview tables -------------------------------------------------------------------------
def _overview(path, trajectory="opts"):
    with tables.open_file(str(path)) as h5:
        group = h5.get_node("/%s" % trajectory)
        if "overview" not in group:
            return {}
        return {table._v_name: table.read() for table in h5.get_node(group, "overview")}


def test_small_overview_tables(tmp_path):
    _sweep(tmp_path / "on.hdf5", small_overview_tables=True)
    overview = _overview(tmp_path / "on.hdf5")
    for name in ("parameters_overview", "config_overview", "results_overview",
                 "derived_parameters_overview", "explored_parameters_overview"):
        assert name in overview
    parameters = overview["parameters_overview"]
    assert parameters["name"].tolist() == [b"parameters.x"]
    assert parameters["comment"].tolist() == [b"the x"]
    assert overview["config_overview"]["value"].tolist() == [b"'value'"]
    assert overview["results_overview"]["name"].tolist() == [b"results.big"]
    explored = overview["explored_parameters_overview"]
    assert explored["name"].tolist() == [b"parameters.x"]
    assert b"3.0" in explored["range"][0]
    _sweep(tmp_path / "off.hdf5", small_overview_tables=False)
    overview = _overview(tmp_path / "off.hdf5")
    assert "parameters_overview" not in overview and "config_overview" not in overview
    assert "explored_parameters_overview" not in overview
    assert "info" in overview and "runs" in overview  # always there (pypet: needed)


def test_small_tables_get_chunks_of_their_size(tmp_path):
    """HDF5 compresses whole chunks when a table closes: PyTables' 64 KiB chunk for a table of
    a few rows made every store compress ~0.7 MB of padding."""
    _sweep(tmp_path / "chunks.hdf5", runs=30)
    with tables.open_file(str(tmp_path / "chunks.hdf5")) as h5:
        small = list(h5.get_node("/opts/overview")) + [h5.get_node("/opts/journal_log")]
        for table in small:
            rows = max(table.nrows, 16)
            assert table.chunkshape == (min(rows, 65536 // table.rowsize),), table
        assert h5.get_node("/opts/overview/runs").chunkshape == (30,)


def test_small_overview_lists_the_trajectory_s_own_leaves_not_per_run_ones(tmp_path):
    """As pypet's: per-run items belong to the large tables and the summaries, so a store
    after a sweep of many runs does not make a row (or a lazily loaded leaf) per run."""
    traj = _sweep(tmp_path / "again.hdf5", runs=30)
    traj.f_add_result("later", 5, comment="after the runs")
    traj.f_store()  # the per-run columns are attached now; a second store rewrites the overview
    overview = _overview(tmp_path / "again.hdf5")
    assert overview["results_overview"]["name"].tolist() == [b"results.big", b"results.later"]
    assert overview["derived_parameters_overview"]["name"].tolist() == []
    assert b"results.runs.$.z" in overview["results_runs_summary"]["key"].tolist()
    assert len(overview["runs"]) == 30


def test_a_store_rewrites_only_the_overview_tables_whose_content_changed(tmp_path, monkeypatch):
    """Each table carries a digest of its content; a table whose content is the same is not
    written at all, the others are rewritten (in place when their columns keep their widths,
    which spares removing a node -- a removal flushes the whole file), and a table the store no
    longer writes is removed."""
    path = tmp_path / "digest.hdf5"
    traj = _sweep(path, runs=3)
    with tables.open_file(str(path), "a") as h5:
        h5.create_table("/opts/overview", "stray", obj=np.zeros(1, dtype=[("a", "i4")]))
    written, removed = [], []
    real_append, real_create, real_remove = tables.Table.append, tables.File.create_table, \
        tables.File.remove_node

    def append(table, rows):
        if table._v_parent._v_name == "overview":
            written.append(table._v_name)
        return real_append(table, rows)

    def create_table(h5, where, name, *args, **kwargs):
        if getattr(where, "_v_name", where).endswith("overview"):
            written.append(name)
        return real_create(h5, where, name, *args, **kwargs)

    def remove_node(h5, where, name=None, *args, **kwargs):
        removed.append(name)
        return real_remove(h5, where, name, *args, **kwargs)

    monkeypatch.setattr(tables.Table, "append", append)
    monkeypatch.setattr(tables.File, "create_table", create_table)
    monkeypatch.setattr(tables.File, "remove_node", remove_node)
    traj.f_expand({"x": [10.0]})
    traj.f_add_result("later", 5, comment="after the runs")
    run_sweep(traj, lambda t: t.f_add_result("z", t.x * 2, comment="doubled"), indices=[3])
    monkeypatch.undo()
    assert "config_overview" not in written and "parameters_overview" not in written
    assert {"runs", "info", "results_overview"} <= set(written)
    assert "stray" in removed and "runs" not in removed and "info" not in removed
    with tables.open_file(str(path)) as h5:
        group = h5.get_node("/opts/overview")
        assert "stray" not in group
        assert len(group.runs) == 4 and group.runs.col("index").tolist()[-1] == 3
        assert b"results.later" in group.results_overview.col("name").tolist()
        assert dict(group.info.read().tolist())[b"runs"] == b"4"


def test_an_overview_table_whose_texts_widen_is_replaced(tmp_path):
    path = tmp_path / "widen.hdf5"
    traj = _sweep(path, runs=3)
    traj.f_add_result("later", 5, comment="c" * 200)  # wider than any column so far
    run_sweep(traj, lambda t: t.f_add_result("z", t.x * 2, comment="doubled"), indices=[0])
    with tables.open_file(str(path)) as h5:
        comments = h5.get_node("/opts/overview/results_overview").col("comment").tolist()
    assert any(comment.startswith(b"c" * 100) for comment in comments)


def test_summary_tables_list_first_of_each_comment(tmp_path):
    _sweep(tmp_path / "on.hdf5", summary_tables=True)
    overview = _overview(tmp_path / "on.hdf5")
    summary = overview["results_runs_summary"]
    assert set(summary["comment"].tolist()) == {b"doubled", b"a dict per run"}
    assert b"results.runs.$.z" in summary["key"].tolist()
    assert overview["derived_parameters_runs_summary"]["comment"].tolist() == [b"halved"]
    _sweep(tmp_path / "off.hdf5", summary_tables=False)
    overview = _overview(tmp_path / "off.hdf5")
    assert "results_runs_summary" not in overview
    assert "derived_parameters_runs_summary" not in overview


def test_large_overview_tables(tmp_path):
    _sweep(tmp_path / "on.hdf5", large_overview_tables=True, results_per_run=2,
           derived_parameters_per_run=1)
    overview = _overview(tmp_path / "on.hdf5")
    assert set(overview["results_runs_overview"]["key"].tolist()) == {
        b"results.runs.$.z", b"results.runs.$.d"}
    assert overview["derived_parameters_runs_overview"]["key"].tolist() == [
        b"derived_parameters.runs.$.half"]
    _sweep(tmp_path / "off.hdf5", large_overview_tables=False)
    overview = _overview(tmp_path / "off.hdf5")
    assert "results_runs_overview" not in overview
    assert "derived_parameters_runs_overview" not in overview


def test_overview_tables_hold_at_most_1000_rows(tmp_path):
    path = tmp_path / "many.hdf5"
    traj = Trajectory("many", filename=str(path), large_overview_tables=True)
    for index in range(OVERVIEW_MAX_ROWS + 50):
        traj.f_add_parameter("p%04d" % index, index)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(1500))})
    run_sweep(traj, lambda t: t.f_add_result("z", t.x))
    overview = _overview(path, "many")
    assert len(overview["parameters_overview"]) == OVERVIEW_MAX_ROWS
    assert len(overview["runs"]) == OVERVIEW_MAX_ROWS
    for name, rows in overview.items():
        assert len(rows) <= OVERVIEW_MAX_ROWS, name
    loaded = load_trajectory(filename=str(path))  # the real data is complete
    assert len(loaded.f_get_parameters()) == OVERVIEW_MAX_ROWS + 51
    assert len(loaded.f_get_from_runs("z")) == 1500


@pytest.mark.parametrize("keyword", ["results_per_run", "derived_parameters_per_run"])
@pytest.mark.parametrize("bad", [-1, 1.5, "10", None])
def test_per_run_estimates_are_validated(keyword, bad):
    with pytest.raises(ConfigurationError, match=keyword):
        HDF5StorageService(**{keyword: bad})


def test_purge_duplicate_comments_stores_a_repeated_comment_once(tmp_path):
    for purge in (True, False):
        path = tmp_path / ("purge_%s.hdf5" % purge)
        traj = Trajectory("purge", filename=str(path), purge_duplicate_comments=purge,
                          summary_tables=False, small_overview_tables=False)
        traj.f_add_parameter("x", 0)
        traj.f_explore({"x": list(range(40))})
        run_sweep(traj, lambda t: t.f_add_result("z", t.x, comment="Mostly harmless!"))
        loaded = load_trajectory(filename=str(path))
        comments = {node.v_comment for node in loaded.f_get_from_runs("z").values()}
        assert comments == {"Mostly harmless!"}  # every run still knows its comment
        stored = []
        with h5py.File(path, "r") as h5:
            def visit(name, node):
                for value in node.attrs.values():
                    if isinstance(value, (bytes, str)) and "harmless" in str(value):
                        stored.append(name)
            h5.visititems(visit)
        assert len(stored) == 1, stored  # one column of 40 runs: the comment once


# -- journal options ---------------------------------------------------------------------------
def _journal_run(tmp_path, runs, **options):
    traj = Trajectory("acks", filename=str(tmp_path / "a.hdf5"), **options)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(runs))})
    traj.f_store()
    journal = traj.v_storage_service.run_journal(traj)
    acknowledged = []
    for index in range(runs):
        traj._set_run(index)
        traj.f_add_result("z", index)
        before = len(journal.written)
        journal.store_run(traj, index, traj._leave_run(), 1, 0.0, 1.0)
        acknowledged.append(len(journal.written) > before)
    return traj, journal, acknowledged


def _indices_in_shard(path, name="acks"):
    with tables.open_file(str(path)) as h5:
        return h5.get_node("/%s/run_table" % name).col("index").tolist()


def test_ack_runs_writes_a_shard_every_n_runs(tmp_path):
    traj, journal, acknowledged = _journal_run(tmp_path, 10, ack_runs=3, ack_seconds=3600)
    assert acknowledged == [False, False, True] * 3 + [False]
    assert [_indices_in_shard(path) for path in journal.written] == [[0, 1, 2], [3, 4, 5],
                                                                     [6, 7, 8]]
    shard_dir = traj.v_storage_service.journal_dir("acks")
    assert sorted(p.name for p in shard_dir.iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in journal.written)
    # acknowledged runs are readable before any compaction; the buffered one is not
    loaded = load_trajectory(filename=str(tmp_path / "a.hdf5"))
    assert list(loaded.f_get_from_runs("z", fast_access=True, use_indices=True)) == \
        list(range(9))
    assert loaded.results_frame()["status"].tolist() == ["completed"] * 9 + ["pending"]
    last = journal.flush()
    assert last is not None and _indices_in_shard(last) == [9]
    assert journal.flush() is None  # nothing buffered: no empty shard
    journal.close()
    traj.f_store()
    assert not shard_dir.exists() or not list(shard_dir.glob("*.h5"))  # compacted
    assert len(load_trajectory(filename=str(tmp_path / "a.hdf5")).f_get_from_runs("z")) == 10


def test_ack_seconds_zero_acknowledges_every_run(tmp_path):
    _, journal, acknowledged = _journal_run(tmp_path, 5, ack_seconds=0)
    assert all(acknowledged) and len(journal.written) == 5


def test_ack_seconds_large_waits_for_close(tmp_path):
    traj, journal, acknowledged = _journal_run(tmp_path, 5, ack_seconds=3600)
    assert not any(acknowledged) and journal.written == []
    journal.close()
    assert len(journal.written) == 1 and _indices_in_shard(journal.written[0]) == [0, 1, 2, 3, 4]


def test_ack_seconds_elapsed_triggers_a_shard(tmp_path):
    traj, journal, acknowledged = _journal_run(tmp_path, 2, ack_seconds=3600)
    journal.ack_seconds = 0.05
    import time
    time.sleep(0.1)
    traj._set_run(2)
    traj.f_add_result("z", 2)
    journal.store_run(traj, 2, traj._leave_run(), 1, 0.0, 1.0)
    assert len(journal.written) == 1 and _indices_in_shard(journal.written[0]) == [0, 1, 2]


@pytest.mark.parametrize("keyword, bad", [("ack_runs", 0), ("ack_runs", 1.5), ("ack_runs", "3"),
                                          ("ack_seconds", -1), ("ack_seconds", "2")])
def test_bad_ack_options(keyword, bad):
    with pytest.raises(ConfigurationError, match=keyword):
        HDF5StorageService(**{keyword: bad})


def _regular_files_fsynced(monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        target = os.readlink("/proc/self/fd/%d" % fd)
        if Path(target).is_file():
            synced.append(Path(target).name)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return synced


@pytest.mark.parametrize("fsync", [True, False])
def test_fsync(tmp_path, monkeypatch, fsync):
    synced = _regular_files_fsynced(monkeypatch)
    traj, journal, _ = _journal_run(tmp_path, 3, ack_runs=3, fsync=fsync)
    assert len(journal.written) == 1
    if fsync:
        assert any(name.startswith(".") and ".tmp" in name for name in synced), synced
        assert any(name.startswith(".a.hdf5.tmp") for name in synced), synced  # the main file
    else:
        assert synced == []
    del synced[:]
    journal.close()
    traj.f_store()
    assert bool(synced) is fsync
    assert len(load_trajectory(filename=str(tmp_path / "a.hdf5")).f_get_from_runs("z")) == 3


def test_display_time_is_accepted():
    assert HDF5StorageService(display_time=5).display_time == 5


# -- readable without distenv ------------------------------------------------------------------
def test_every_node_is_readable_with_plain_pytables_and_h5py(tmp_path):
    path = tmp_path / "plain.hdf5"
    traj = _sweep(path, runs=6)
    traj.f_add_result("frame", pd.DataFrame({"a": [1, 2]}))
    traj.f_add_result("text", "Grüße")
    traj.f_store()
    with tables.open_file(str(path)) as h5:
        count = 0
        for leaf in h5.walk_nodes("/", "Leaf"):
            leaf.read()
            count += 1
        assert count > 10
        runs = h5.get_node("/opts/run_table").read()
        assert runs["index"].tolist() == list(range(6))
        assert set(runs["status"].tolist()) == {1}
        column = h5.get_node("/opts/results/runs/crun/z").read()
        assert column["run_index"].tolist() == list(range(6))
        assert column["z"].tolist() == [2.0 * i for i in range(6)]
        assert h5.get_node("/opts/results/text/text").read().item().decode() == "Grüße"
        explored = h5.get_node("/opts/parameters/x/explored_data").read()
        assert explored.tolist() == [float(i) for i in range(6)]
    with h5py.File(path, "r") as h5:
        datasets = []
        h5.visititems(lambda name, node: datasets.append(name)
                      if isinstance(node, h5py.Dataset) else None)
        for name in datasets:
            h5[name][()]
        assert len(datasets) == count
        np.testing.assert_array_equal(h5["/opts/results/runs/crun/z"]["z"], 2.0 * np.arange(6))
        np.testing.assert_array_equal(h5["/opts/results/big/big"][()], ARRAY)
        assert h5["/opts/parameters/x/data"][()] == 1.0
        assert h5["/opts/results/runs/crun/z"].attrs["DISTENV_COMMENT"] in (b"doubled",
                                                                           "doubled")


# -- HDF5's file locks --------------------------------------------------------------------------
def test_importing_distenv_turns_hdf5_file_locking_off_unless_set():
    import subprocess
    import sys
    code = "import os, distenv; print(os.environ['HDF5_USE_FILE_LOCKING'])"
    environment = {key: value for key, value in os.environ.items()
                   if key != "HDF5_USE_FILE_LOCKING"}
    found = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert found == "FALSE"
    kept = subprocess.run([sys.executable, "-c", code],
                          env={**environment, "HDF5_USE_FILE_LOCKING": "TRUE"},
                          capture_output=True, text=True, check=True).stdout.strip()
    assert kept == "TRUE"


def test_a_file_open_in_a_forked_child_does_not_lock_out_the_next_store(tmp_path):
    """A child forked while a store had the file open keeps HDF5's lock (errno 11) if HDF5
    locks files; distenv's stores still go through while that child lives."""
    import multiprocessing
    import signal
    import time
    path = tmp_path / "forked.hdf5"
    traj = Trajectory("forked", filename=str(path))
    traj.f_add_parameter("x", 1)
    traj.f_store()
    with tables.open_file(str(path), "a"):  # as a store would have it open
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
        child.start()
    try:
        traj.f_add_result("after", 2)
        traj.f_store()  # opens the file to copy it: failed with errno 11 while the child lived
        assert load_trajectory(filename=str(path), load_results=2).after == 2
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join()


@pytest.mark.parametrize("complevel, expected", [(9, 1), (4, 1), (0, 0)])
def test_the_run_table_is_compressed_lightly_and_your_data_as_you_chose(tmp_path, complevel,
                                                                         expected):
    path = tmp_path / ("c%d.hdf5" % complevel)
    _sweep(path, runs=6, complevel=complevel)
    with tables.open_file(str(path)) as h5:
        run_table = h5.get_node("/opts/run_table")
        assert run_table.filters.complevel == expected
        assert run_table.filters.complib == ("zlib" if expected else run_table.filters.complib)
        assert h5.get_node("/opts/results/runs/crun/z").filters.complevel == complevel
