"""Round trips through real HDF5 files: every value type, as parameter, explored range,
static result and per-run result (regular columns and the irregular fallback)."""

from __future__ import annotations

import fractions

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sparse

from distenv import PickleParameter, PickleResult, Trajectory, load_trajectory
from helpers.runs import run_sweep


class Point:
    """A plain picklable object (module level, so pickle can find it)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


def assert_same(expected, got, where=""):
    """Equal value AND equal type (dtype, shape, sparse format, ...)."""
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    elif isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(got, expected)
    elif sparse.issparse(expected):
        assert type(got) is type(expected), where
        assert got.format == expected.format and got.shape == expected.shape, where
        assert (got != expected).nnz == 0, where
    elif isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), (where, got)
        assert got.dtype == expected.dtype and got.shape == expected.shape, (where, got)
        np.testing.assert_array_equal(got, expected)
    elif isinstance(expected, dict):
        assert type(got) is dict and list(got) == list(expected), (where, got)
        for key in expected:
            assert_same(expected[key], got[key], "%s[%r]" % (where, key))
    elif isinstance(expected, (list, tuple)) and expected and \
            (isinstance(expected[0], (np.ndarray, dict, list, tuple, float))
             or sparse.issparse(expected[0])):
        assert type(got) is type(expected) and len(got) == len(expected), (where, got)
        for position, (item_e, item_g) in enumerate(zip(expected, got)):
            assert_same(item_e, item_g, "%s[%d]" % (where, position))
    elif isinstance(expected, float) and np.isnan(expected):
        assert type(got) is float and np.isnan(got), where
    else:
        assert type(got) is type(expected), (where, type(got), type(expected))
        assert got == expected, (where, got, expected)
        if isinstance(expected, (list, tuple)):
            assert [type(item) for item in got] == [type(item) for item in expected], where


PARAMETER_VALUES = {
    "int": 7, "big_int": 2 ** 62, "neg": -5, "float": 0.1, "nan": float("nan"),
    "inf": float("inf"), "bool": False, "complex": 2.5 - 1j,
    "str": "plain", "unicode": "Grüße ☃ 世界", "empty_str": "", "bytes": b"\x00\xfe raw",
    "empty_bytes": b"", "bytes_nul": b"ends in NUL\x00\x00", "str_nul": "nul\x00",
    "only_nul": b"\x00", "list_bytes_nul": [b"a\x00", b"b"], "tuple_str_nul": ("x", "y\x00"),
    "np_int8": np.int8(-3), "np_uint64": np.uint64(2 ** 63 + 5), "np_float32": np.float32(0.25),
    "np_float64": np.float64(1e-300), "np_bool": np.bool_(True), "np_complex64": np.complex64(1j),
    "np_bytes": np.bytes_(b"nb"),
    "array": np.arange(12, dtype=np.int32).reshape(3, 4), "array_0d": np.array(2.5),
    "array_empty": np.zeros((0, 3)), "array_bool": np.array([True, False, True]),
    "array_complex": np.array([1 + 1j, 2j]), "array_bytes": np.array([b"a", b"bcd"]),
    "array_f_order": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "tuple_int": (1, 2, 3), "list_float": [0.5, 1.5], "tuple_str": ("é", "long text"),
    "list_bytes": [b"a", b"bc"], "list_bool": [True, False], "tuple_complex": (1j, 2 + 0j),
    "list_np": [np.float32(1), np.float32(2.5)],
    "csr": sparse.csr_matrix(np.array([[0, 1.5], [2, 0]])),
    "csc": sparse.csc_matrix(np.eye(3)), "bsr": sparse.bsr_matrix(np.eye(4)),
    "coo": sparse.coo_matrix(np.array([[0, 1], [0, 0]])),
    "lil": sparse.lil_matrix(np.eye(2)), "dia": sparse.dia_matrix(np.eye(3)),
    "csr_array": sparse.csr_array(np.eye(2)),
}

RESULT_VALUES = dict(PARAMETER_VALUES)
RESULT_VALUES.update({
    "none": None, "list_mixed": [1, "two", 3.0], "empty_list": [], "empty_tuple": (),
    "empty_dict": {}, "dict": {"a": 1, "b": "two", "c": np.arange(3), "d": [1.5, 2.5]},
    "nested_dict": {"outer": {"inner": np.ones(2), "text": "é"}},
    "dict_int_keys": {1: "one", 2: "two"}, "huge_int": 2 ** 100,
    "list_of_arrays": [np.arange(2), np.arange(3)], "set": {1, 2, 3},
    "fraction": fractions.Fraction(3, 7), "object": Point(1, "b"),
    "frame": pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5], "c": ["x", "yé", "z"]}),
    "frame_index": pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(["r1", "r2"], name="row")),
    "empty_frame": pd.DataFrame({"a": pd.Series([], dtype=float)}),
    "series": pd.Series([1.0, 2.0, np.nan], name="s"),
    "series_str": pd.Series(["a", "bé"]),
    "object_array": np.array([{"a": 1}, None], dtype=object),
    "unicode_array": np.array(["ab", "cdé"]),
    "datetime_array": np.array(["2024-01-01", "2024-06-30"], dtype="datetime64[D]"),
    "structured": np.array([(1, 2.0)], dtype=[("i", "i4"), ("f", "f8")]),
})


def _store_and_load(traj, **load):
    traj.f_store()
    return load_trajectory(name=traj.v_name, filename=str(traj.v_storage_service.filename),
                           **load)


@pytest.mark.parametrize("pandas_format", ["fixed", "table"])
def test_static_result_round_trip_of_every_type(tmp_path, pandas_format):
    traj = Trajectory("results", filename=str(tmp_path / "r.hdf5"), pandas_format=pandas_format)
    traj.f_add_parameter("x", 1)
    traj.f_add_result("everything", comment="all types", **RESULT_VALUES)
    for name, value in RESULT_VALUES.items():  # and each alone (fast access path)
        traj.f_add_result("single.%s" % name, value)
    loaded = _store_and_load(traj)
    everything = loaded.results.everything
    assert everything.v_comment == "all types"
    assert set(everything.f_to_dict()) == set(RESULT_VALUES)
    for name, expected in RESULT_VALUES.items():
        assert_same(expected, everything[name], name)
        leaf = loaded.f_get("results.single.%s" % name)
        assert_same(expected, leaf.f_get(), "single " + name)


@pytest.mark.parametrize("name", sorted(PARAMETER_VALUES))
def test_parameter_round_trip(tmp_path, name):
    value = PARAMETER_VALUES[name]
    traj = Trajectory("params", filename=str(tmp_path / "p.hdf5"))
    traj.f_add_parameter("group.%s" % name, value, comment="comment of %s" % name)
    traj.f_add_config("conf_%s" % name, value)
    traj.f_add_derived_parameter("derived_%s" % name, value)
    loaded = _store_and_load(traj)
    leaf = loaded.f_get("parameters.group.%s" % name)
    assert type(leaf) is type(traj.f_get("parameters.group.%s" % name))
    assert leaf.v_comment == "comment of %s" % name
    assert_same(value, leaf.f_get(), name)
    assert_same(value, loaded.f_get("config.conf_%s" % name).f_get(), "config " + name)
    assert_same(value, loaded.f_get("derived_parameters.derived_%s" % name).f_get(),
                "derived " + name)


EXPLORED = {
    "int": (0, [1, 2, -3]),
    "float": (0.0, [0.5, float("inf"), -1e300]),
    "bool": (False, [True, False, True]),
    "complex": (0j, [1j, 2 + 3j, -1 + 0j]),
    "str": ("", ["a", "much longer Grüße ☃", ""]),
    "bytes": (b"", [b"\x00", b"longer bytes", b"z"]),
    "bytes_plain": (b"", [b"a", b"longer bytes", b"z"]),
    "str_nul": ("", ["a\x00", "b", "c"]),
    "np_float32": (np.float32(0), [np.float32(1.5), np.float32(2), np.float32(-3)]),
    "np_int16": (np.int16(0), [np.int16(1), np.int16(-2), np.int16(3)]),
    "linspace_for_float": (0.0, list(np.linspace(0.0, 1.0, 3))),  # np.float64 values
    "mixed_float_kinds": (0.0, [np.float64(0.5), 1.5, np.float32(2.5)]),
    "array_same_shape": (np.zeros(3), [np.ones(3), np.arange(3.0), np.full(3, 7.0)]),
    "array_other_shapes": (np.zeros(1), [np.ones(2), np.arange(3.0), np.zeros((2, 2))]),
    "tuple": ((0, 0), [(1, 2), (3, 4), (5, 6)]),
    "list_of_other_lengths": ([0.0], [[1.0], [2.0, 3.0], []]),
    "list_str": (["a"], [["b", "c"], ["dé"], ["e", "f", "g"]]),
    "sparse": (sparse.csr_matrix((2, 2)), [sparse.csr_matrix(np.eye(2)),
                                           sparse.csr_matrix((3, 3)),
                                           sparse.csr_matrix(np.ones((1, 4)))]),
}


@pytest.mark.parametrize("name", sorted(EXPLORED))
def test_explored_range_round_trip(tmp_path, name):
    default, values = EXPLORED[name]
    traj = Trajectory("explored", filename=str(tmp_path / "e.hdf5"))
    traj.f_add_parameter(name, default)
    traj.f_add_parameter("other", 1)
    traj.f_explore({name: values, "other": [10, 20, 30]})
    loaded = _store_and_load(traj)
    assert len(loaded) == 3
    assert list(loaded.f_get_explored_parameters()) == ["parameters.%s" % name,
                                                        "parameters.other"]
    parameter = loaded.f_get(name)
    assert parameter.v_explored
    assert_same(default, parameter.f_get_default(), "default")
    for index, expected in enumerate(values):
        loaded.f_set_crun(index)
        assert_same(expected, loaded.f_get(name).f_get(), "%s run %d" % (name, index))
    assert_same(tuple(values), parameter.f_get_range(), "range")


def test_pickle_parameter_explored_round_trip(tmp_path):
    traj = Trajectory("pickled", filename=str(tmp_path / "p.hdf5"))
    traj.f_add_parameter(PickleParameter, "obj", {"a": 1}, comment="pickled")
    traj.f_explore({"obj": [{"a": 2}, Point(1, 2), [1, "x"]]})
    loaded = _store_and_load(traj)
    leaf = loaded.f_get("obj")
    assert type(leaf) is PickleParameter and leaf.v_comment == "pickled"
    assert leaf.f_get_default() == {"a": 1}
    assert leaf.f_get_range() == ({"a": 2}, Point(1, 2), [1, "x"])


def test_pickle_result_stays_pickled(tmp_path):
    traj = Trajectory("pickled", filename=str(tmp_path / "p.hdf5"))
    traj.f_add_result(PickleResult, "kept", array=np.arange(3), text="é")
    loaded = _store_and_load(traj)
    leaf = loaded.f_get("kept")
    assert type(leaf) is PickleResult
    assert_same(np.arange(3), leaf.array)
    assert leaf.text == "é"
    import tables
    with tables.open_file(str(tmp_path / "p.hdf5")) as h5:
        node = h5.get_node("/pickled/results/kept/array")
        assert node._v_attrs.DISTENV_KIND == "pickle"


# -- per-run results ---------------------------------------------------------------------------
PER_RUN = {  # name -> function of the run index; each gives one signature for every run
    "int": lambda i: i * 3,
    "float": lambda i: i / 7,
    "bool": lambda i: i % 2 == 0,
    "complex": lambda i: complex(i, -i),
    "str": lambda i: "run %d ü" % i,
    "bytes": lambda i: b"b%d" % i,
    "bytes_nul": lambda i: b"\x00" * i,
    "str_nul": lambda i: "s" + "\x00" * (i % 2),
    "np_float32": lambda i: np.float32(i / 2),
    "np_int8": lambda i: np.int8(i),
    "array": lambda i: np.arange(3, dtype=np.int16) + i,
    "array_2d": lambda i: np.full((2, 2), float(i)),
    "tuple": lambda i: (i, i + 1),
    "list": lambda i: [float(i), 0.5],
    "none": lambda i: None,
    "dict": lambda i: {"i": i, "text": "t%d" % i},
    "frame": lambda i: pd.DataFrame({"v": [i, i + 1]}),
    "series": lambda i: pd.Series([float(i)]),
    "object": lambda i: Point(i, str(i)),
    "array_0d": lambda i: np.array(float(i)),
    "array_empty": lambda i: np.zeros((0, 2)),
    "sparse": lambda i: sparse.csr_matrix(np.eye(2) * i),
    "list_mixed": lambda i: [i, "x"],
    "big_array": lambda i: np.arange(5000, dtype=np.int32) + i,  # too big for a column row
    "long_tuple": lambda i: tuple(range(i, i + 2000)),
    "long_text": lambda i: "ü" * 10000 + str(i),
}


@pytest.mark.parametrize("pandas_format", ["fixed", "table"])
def test_per_run_results_of_every_type(tmp_path, pandas_format):
    traj = Trajectory("per_run", filename=str(tmp_path / "r.hdf5"), pandas_format=pandas_format,
                      ack_runs=3)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(7))})

    def job(t):
        for name, make in PER_RUN.items():
            t.f_add_result(name, make(t.v_idx), comment="per-run %s" % name)
        t.f_add_result("several", a=t.v_idx, b=np.ones(2) * t.v_idx)
        t.f_add_derived_parameter("derived", t.x * 2)

    run_sweep(traj, job)
    loaded = load_trajectory(filename=str(tmp_path / "r.hdf5"))
    assert len(loaded) == 7 and loaded.f_is_completed()
    for name, make in PER_RUN.items():
        values = loaded.f_get_from_runs(name, fast_access=True)
        assert list(values) == loaded.f_get_run_names(), name
        for index, got in enumerate(values.values()):
            assert_same(make(index), got, "%s run %d" % (name, index))
        leaf = loaded.f_get("results.runs.run_00000004.%s" % name)
        assert leaf.v_comment == "per-run %s" % name
    several = loaded.f_get_from_runs("several")
    assert [node.a for node in several.values()] == list(range(7))
    assert_same(np.ones(2) * 6, several["run_00000006"].b)
    assert loaded.f_get_from_runs("derived", fast_access=True, use_indices=True) == {
        index: index * 2 for index in range(7)}


def test_per_run_values_that_change_type_and_shape(tmp_path):
    """Irregular values fall back to per-run storage; natural naming does not change."""
    values = [1, 2.5, "three", np.arange(4), np.arange(6).reshape(2, 3), {"six": 6}, None,
              (1, 2), [1.0, 2.0, 3.0], b"ten", np.float32(11), True, 2 ** 80, "é" * 500]
    traj = Trajectory("irregular", filename=str(tmp_path / "i.hdf5"), ack_runs=4)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(len(values)))})

    def job(t):
        t.f_add_result("v", values[t.v_idx])
        t.f_add_result("steady", float(t.v_idx))

    # compact in the middle: the main file's column meets other types in later shards
    run_sweep(traj, job, indices=range(5))
    run_sweep(traj, job, indices=range(5, len(values)), store=False)
    for loaded in (load_trajectory(filename=str(tmp_path / "i.hdf5")),):  # shards pending
        _check_irregular(loaded, values)
    traj.f_store()
    _check_irregular(load_trajectory(filename=str(tmp_path / "i.hdf5")), values)


def test_per_run_arrays_that_differ_only_in_dtype_byte_order_or_shape(tmp_path):
    """The journal's quick check of a column value (type, dtype, shape) sends every array that
    does not match the column exactly to per-run storage, within one batch."""
    values = [np.arange(3.0), np.arange(3.0) * 2, np.arange(3, dtype=np.float32),
              np.arange(3.0).astype(">f8"), np.arange(4.0), np.arange(3.0).reshape(3, 1),
              np.ma.masked_array(np.arange(3.0)), np.arange(3.0) + 7, 1.5, True, 2.5]
    traj = Trajectory("quick", filename=str(tmp_path / "q.hdf5"), ack_runs=100)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(len(values)))})

    def job(t):
        t.f_add_result("v", values[t.v_idx])

    run_sweep(traj, job)
    got = load_trajectory(filename=str(tmp_path / "q.hdf5")).f_get_from_runs(
        "v", fast_access=True, use_indices=True)
    for index, expected in enumerate(values):
        if isinstance(expected, np.ndarray):  # a big-endian array comes back in native order
            expected = expected.astype(expected.dtype.newbyteorder("="))
        assert type(got[index]) is type(expected), index
        assert_same(expected, got[index], "run %d" % index)


def _check_irregular(loaded, values):
    got = loaded.f_get_from_runs("v", fast_access=True, use_indices=True)
    assert list(got) == list(range(len(values)))
    for index, expected in enumerate(values):
        assert_same(expected, got[index], "run %d" % index)
        loaded.f_set_crun(index)
        assert_same(expected, loaded.v, "crun %d" % index)
        assert_same(expected, loaded.results.runs.crun.v, "crun path %d" % index)
        assert_same(expected, loaded["results.runs.run_%08d.v" % index], "path %d" % index)
    loaded.f_set_crun(None)
    steady = loaded.f_get_from_runs("steady", fast_access=True)
    assert list(steady.values()) == [float(i) for i in range(len(values))]


def test_per_run_strings_growing_longer(tmp_path):
    """Later runs' strings are longer than the column first written; nothing is cut."""
    def text(index):
        return "ü" * (index ** 2) + str(index)

    traj = Trajectory("growing", filename=str(tmp_path / "g.hdf5"), ack_runs=2)
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(12))})

    def job(t):
        t.f_add_result("text", text(t.v_idx))
        t.f_add_result("raw", b"x" * (t.v_idx * 5))
        t.f_add_result("pair", first=text(t.v_idx), second=t.v_idx)

    for start in range(0, 12, 4):  # compaction between growing batches
        run_sweep(traj, job, indices=range(start, start + 4))
    loaded = load_trajectory(filename=str(tmp_path / "g.hdf5"))
    assert list(loaded.f_get_from_runs("text", fast_access=True).values()) == \
        [text(i) for i in range(12)]
    assert list(loaded.f_get_from_runs("raw", fast_access=True).values()) == \
        [b"x" * (i * 5) for i in range(12)]
    pairs = loaded.f_get_from_runs("pair")
    assert [node.first for node in pairs.values()] == [text(i) for i in range(12)]
    frame = loaded.results_frame()
    assert list(frame["text"]) == [text(i) for i in range(12)]


def test_per_run_comment_that_changes_keeps_each_comment(tmp_path):
    traj = Trajectory("comments", filename=str(tmp_path / "c.hdf5"))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(4))})
    run_sweep(traj, lambda t: t.f_add_result("z", t.v_idx, comment="odd" if t.v_idx % 2
                                             else "even"))
    loaded = load_trajectory(filename=str(tmp_path / "c.hdf5"))
    comments = [node.v_comment for node in loaded.f_get_from_runs("z").values()]
    assert comments == ["even", "odd", "even", "odd"]
    assert list(loaded.f_get_from_runs("z", fast_access=True).values()) == [0, 1, 2, 3]


def test_encoding_round_trip(tmp_path):
    traj = Trajectory("latin", filename=str(tmp_path / "l.hdf5"), encoding="latin-1")
    traj.f_add_parameter("name", "Grüße")
    traj.f_explore({"name": ["é", "ÿ", "ß"]})
    traj.f_add_result("text", "façade")
    run_sweep(traj, lambda t: t.f_add_result("per_run", t.name * 2))
    loaded = load_trajectory(filename=str(tmp_path / "l.hdf5"), encoding="latin-1")
    assert loaded.text == "façade"
    assert loaded.f_get("name").f_get_range() == ("é", "ÿ", "ß")
    assert list(loaded.f_get_from_runs("per_run", fast_access=True).values()) == \
        ["éé", "ÿÿ", "ßß"]
    import tables
    with tables.open_file(str(tmp_path / "l.hdf5")) as h5:
        raw = h5.get_node("/latin/results/text/text").read()
    assert raw.item() == "façade".encode("latin-1")  # the bytes really are latin-1
