"""Packing per-run arrays into one column: the joined-bytes fast path gives what np.stack
gives, and falls back to np.stack where the arrays' memory is not one C-ordered block."""

import numpy as np
import pytest

from distenv.trajectory.columns import pack, signature, unpack


def packed(values):
    sig = signature(values[0])
    assert all(signature(value) == sig for value in values)
    return pack(sig, values)


@pytest.mark.parametrize("values", [
    [np.array([1.0, 2.0, 3.0]) * i for i in range(5)],
    [np.arange(6, dtype=np.int32).reshape(2, 3) + i for i in range(4)],
    [np.array([True, False]), np.array([False, False])],
    [np.array([1 + 2j]), np.array([3 - 1j])],
    [np.array(["ab", "c"]), np.array(["d", "ef"])],
    [np.array([b"ab", b"c"]), np.array([b"d", b"ef"])],
    [np.array(["2020-01-01"], dtype="M8[D]"), np.array(["2021-02-03"], dtype="M8[D]")],
    [np.arange(12.0).reshape(3, 4)[:, ::2] + i for i in range(3)],           # views
    [np.asfortranarray(np.arange(6.0).reshape(2, 3)) + i for i in range(3)],  # Fortran order
    [np.arange(3, dtype=">f8"), (np.arange(3) * 2).astype(">f8")],            # big-endian
])
def test_a_column_of_arrays_equals_np_stack(values):
    column = packed(values)
    expected = np.stack(values)
    assert column.dtype == values[0].dtype  # as the signature says (np.stack: native order)
    assert column.shape == expected.shape
    assert (column == expected).all()
    assert column.flags.writeable
    assert all((a == b).all() for a, b in zip(unpack(signature(values[0]), column), values))


def test_no_arrays_is_an_empty_column_of_the_signature():
    column = pack(("array", "<f8", (3,)), [])
    assert column.shape == (0, 3) and column.dtype == np.float64
