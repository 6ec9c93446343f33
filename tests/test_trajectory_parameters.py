"""Parameters: every supported value type, unsupported ones, PickleParameter, locking."""

from __future__ import annotations

import fractions

import numpy as np
import pytest
import scipy.sparse as sparse

from distenv import (ArrayParameter, Parameter, PickleParameter, SparseParameter, Trajectory)
from distenv.errors import (DistenvError, ExplorationError, ParameterLockedError,
                            UnsupportedTypeError)

SUPPORTED = {
    "int": 7,
    "negative_int": -3,
    "float": 0.5,
    "bool": True,
    "complex": 1 - 2j,
    "str": "seven",
    "unicode_str": "Grüße, 世界",
    "empty_str": "",
    "bytes": b"\x00\x01\xff",
    "np_int32": np.int32(3),
    "np_int64": np.int64(-4),
    "np_uint8": np.uint8(255),
    "np_float32": np.float32(1.5),
    "np_float64": np.float64(2.5),
    "np_bool": np.bool_(False),
    "np_complex": np.complex128(1 + 1j),
    "np_str": np.str_("numpy string"),
    "np_bytes": np.bytes_(b"numpy bytes"),
    "array_1d": np.arange(5),
    "array_2d": np.ones((2, 3), dtype=np.float32),
    "array_0d": np.array(4.0),
    "array_empty": np.array([], dtype=np.int16),
    "array_bool": np.array([True, False]),
    "array_bytes": np.array([b"ab", b"c"]),
    "array_unicode": np.array(["ab", "cé"]),
    "tuple_int": (1, 2, 3),
    "tuple_str": ("a", "b"),
    "list_float": [0.5, 1.5],
    "list_bool": [True, False],
    "list_bytes": [b"x", b"yz"],
    "list_np": [np.float32(1), np.float32(2)],
    "empty_tuple": (),
}


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_parameter_holds_supported_value(name):
    value = SUPPORTED[name]
    traj = Trajectory("types")
    leaf = traj.f_add_parameter(name, value, comment="a %s" % name)
    assert isinstance(leaf, Parameter)
    got = traj.f_get(name, fast_access=True)
    assert got is value  # the very object, not a copy
    assert leaf.f_supports(value)
    assert leaf.v_comment == "a %s" % name
    assert not leaf.f_is_empty()


@pytest.mark.parametrize("matrix", [sparse.csr_matrix(np.eye(3)), sparse.csc_matrix(np.eye(2)),
                                    sparse.lil_matrix((4, 4)), sparse.coo_matrix(np.eye(2)),
                                    sparse.csr_array(np.eye(2))],
                         ids=["csr", "csc", "lil", "coo", "csr_array"])
def test_sparse_matrices_are_parameters(matrix):
    traj = Trajectory("sparse")
    traj.f_add_parameter("m", matrix)
    assert traj.m is matrix
    traj.f_add_parameter(SparseParameter, "kept_for_pypet", matrix)
    assert type(traj.f_get("kept_for_pypet")) is SparseParameter


def test_array_parameter_class_for_pypet_scripts():
    traj = Trajectory("arrays")
    leaf = traj.f_add_parameter(ArrayParameter, "a", np.arange(3), comment="pypet style")
    assert type(leaf) is ArrayParameter
    np.testing.assert_array_equal(traj.a, np.arange(3))
    assert leaf.v_comment == "pypet style"


@pytest.mark.parametrize("value, words", [
    ({"a": 1}, ["{'a': 1}", "dict", "PickleParameter"]),
    ([1, "a"], ["[1, 'a']", "mixes", "int", "str"]),
    ([[1, 2], [3]], ["[[1, 2], [3]]", "list"]),
    ((1.0, 2), ["(1.0, 2)", "float", "int"]),
    (np.array([object(), 1], dtype=object), ["object", "PickleParameter"]),
    (fractions.Fraction(1, 3), ["Fraction(1, 3)", "Fraction"]),
    (None.__class__, ["NoneType"]),
    ({1, 2}, ["{1, 2}", "set"]),
])
def test_unsupported_values_name_the_value(value, words):
    traj = Trajectory("bad")
    with pytest.raises(UnsupportedTypeError) as info:
        traj.f_add_parameter("p", value)
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)
    assert isinstance(info.value, TypeError)
    assert not traj.f_contains("parameters.p")


def test_f_set_rejects_unsupported_values_and_keeps_the_old_one():
    traj = Trajectory("bad")
    leaf = traj.f_add_parameter("p", 1)
    with pytest.raises(UnsupportedTypeError):
        leaf.f_set({"no": "dicts"})
    assert traj.p == 1
    assert not leaf.f_supports({"no": "dicts"})


def test_a_long_value_is_shortened_in_the_message():
    with pytest.raises(UnsupportedTypeError) as info:
        Trajectory("bad").f_add_parameter("p", {"k%d" % i: i for i in range(1000)})
    assert len(str(info.value)) < 1000
    assert "{'k0': 0" in str(info.value)


@pytest.mark.parametrize("value", [{"a": [1, 2]}, [1, "mixed"], fractions.Fraction(2, 3),
                                   {1, 2, 3}, None.__class__, ["nested", ["lists"]]])
def test_pickle_parameter_holds_anything_picklable(value):
    traj = Trajectory("pickles")
    leaf = traj.f_add_parameter(PickleParameter, "obj", value, comment="pickled")
    assert type(leaf) is PickleParameter
    assert traj.obj == value


def test_pickle_parameter_rejects_unpicklable_values_naming_them():
    traj = Trajectory("pickles")
    with pytest.raises(UnsupportedTypeError) as info:
        traj.f_add_parameter(PickleParameter, "fn", lambda x: x)
    assert "lambda" in str(info.value) and "pickle" in str(info.value)


def test_parameter_instance_can_be_added():
    traj = Trajectory("instances")
    traj.f_add_parameter(Parameter("group.value", 3, comment="made outside"))
    assert traj["parameters.group.value"] == 3
    assert traj.f_get("value").v_comment == "made outside"


def test_f_add_parameter_with_name_keyword():
    traj = Trajectory("keywords")
    traj.f_add_parameter(name="k", data=3, comment="by keyword")
    assert traj.k == 3


def test_parameter_f_get_default_and_f_empty():
    traj = Trajectory("empty")
    leaf = traj.f_add_parameter("p", 2)
    assert leaf.f_get_default() == 2
    leaf.f_empty()
    assert leaf.f_is_empty()
    leaf.f_set(3)
    assert traj.p == 3


# -- locking -----------------------------------------------------------------------------------
def test_locked_parameters_refuse_changes():
    traj = Trajectory("locks")
    leaf = traj.f_add_parameter("p", 1)
    traj.f_add_parameter("group.q", 2.0)
    traj.f_lock_parameters()
    assert leaf.v_locked and traj.f_get("q").v_locked
    with pytest.raises(ParameterLockedError) as info:
        leaf.f_set(5)
    assert "parameters.p" in str(info.value) and isinstance(info.value, TypeError)
    with pytest.raises(ParameterLockedError):
        traj.f_get("q").f_set(3.0)
    with pytest.raises(ParameterLockedError):
        leaf.f_empty()
    with pytest.raises(ParameterLockedError, match="locked"):
        traj.f_explore({"p": [1, 2]})
    assert traj.p == 1 and traj.q == 2.0 and len(traj) == 1
    traj.f_unlock_parameters()
    leaf.f_set(5)
    assert traj.p == 5


def test_lock_and_unlock_single_parameter():
    traj = Trajectory("locks")
    leaf = traj.f_add_parameter("p", 1)
    leaf.f_lock()
    with pytest.raises(ParameterLockedError):
        leaf.f_set(2)
    leaf.f_unlock()
    leaf.f_set(2)
    assert traj.p == 2


def test_lock_derived_parameters():
    traj = Trajectory("locks")
    derived = traj.f_add_derived_parameter("d", 1)
    traj.f_lock_derived_parameters()
    with pytest.raises(ParameterLockedError):
        derived.f_set(2)


def test_explored_parameter_default_cannot_change():
    traj = Trajectory("locks")
    leaf = traj.f_add_parameter("p", 1)
    traj.f_explore({"p": [1, 2, 3]})
    with pytest.raises(ParameterLockedError, match="explored"):
        leaf.f_set(4)
    assert leaf.f_get_range() == (1, 2, 3)


def test_parameters_cannot_be_added_during_a_run():
    traj = Trajectory("runs")
    traj.f_add_parameter("p", 1)
    traj.f_explore({"p": [1, 2]})
    traj._set_run(0)
    try:
        with pytest.raises(DistenvError, match="derived parameter"):
            traj.f_add_parameter("new", 1)
    finally:
        traj._leave_run()
    assert not traj.f_contains("parameters.new")


def test_explored_arrays_must_share_the_dtype_kind():
    traj = Trajectory("types")
    traj.f_add_parameter("arr", np.zeros(2))
    traj.f_explore({"arr": [np.ones(2), np.ones(3)]})  # one dtype kind, any shape
    assert len(traj) == 2
    other = Trajectory("other")
    other.f_add_parameter("a", np.zeros(2))
    with pytest.raises(ExplorationError, match="text"):
        other.f_explore({"a": [np.array(["text"])]})
