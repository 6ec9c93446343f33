"""What a parameter may hold, and whether two values are of the same family.

A *parameter* holds Python scalars (int, float, bool, complex, str, bytes), numpy scalars and
arrays, tuples/lists of one scalar type, or scipy sparse matrices. Anything else needs a
:class:`~distenv.trajectory.leaves.PickleParameter`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from distenv.errors import UnsupportedTypeError

PYTHON_SCALARS = (bool, int, float, complex, str, bytes)
_PYTHON_SCALAR_SET = frozenset(PYTHON_SCALARS)


def is_sparse(value: Any) -> bool:
    """True for a scipy sparse matrix/array, without importing scipy needlessly."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(value)


def is_scalar(value: Any) -> bool:
    """A Python scalar of a supported type, or a numpy scalar of a non-object dtype."""
    if type(value) in _PYTHON_SCALAR_SET:
        return True
    return isinstance(value, np.generic) and value.dtype.kind not in "OV"


def parameter_kind(value: Any) -> str:
    """Classify a parameter value: ``scalar``, ``array``, ``sequence`` or ``sparse``.

    Raises
    ------
    UnsupportedTypeError
        For anything a plain parameter cannot hold, naming the value.
    """
    if is_scalar(value):
        return "scalar"
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OV":
            raise UnsupportedTypeError(
                "parameter value %s has numpy dtype %r, which cannot be stored natively; "
                "use a PickleParameter for object arrays" % (_short(value), value.dtype))
        return "array"
    if isinstance(value, (tuple, list)):
        types = {type(item) for item in value}
        if len(types) > 1:
            raise UnsupportedTypeError(
                "parameter value %s mixes element types %s; a tuple/list parameter must hold "
                "one scalar type (use a PickleParameter otherwise)"
                % (_short(value), sorted(t.__name__ for t in types)))
        if value and not is_scalar(value[0]):
            raise UnsupportedTypeError(
                "parameter value %s holds %s elements; a tuple/list parameter must hold scalars "
                "(int, float, bool, complex, str, bytes or numpy scalars); use a PickleParameter "
                "otherwise" % (_short(value), type(value[0]).__name__))
        return "sequence"
    if is_sparse(value):
        return "sparse"
    raise UnsupportedTypeError(
        "parameter value %s of type %s is not supported: a parameter holds int, float, bool, "
        "complex, str, bytes, numpy scalars/arrays, tuples/lists of one scalar type or scipy "
        "sparse matrices; use a PickleParameter (f_add_parameter(PickleParameter, name, value)) "
        "for anything else" % (_short(value), type(value).__name__))


def family(value: Any) -> tuple:
    """A signature that explored values must share with the default value."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool",)
    if isinstance(value, (int, np.integer)):
        return ("int",)
    if isinstance(value, (float, np.floating)):
        return ("float",)
    if isinstance(value, (complex, np.complexfloating)):
        return ("complex",)
    if isinstance(value, (str, np.str_)):
        return ("str",)
    if isinstance(value, (bytes, np.bytes_)):
        return ("bytes",)
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.kind)
    if isinstance(value, (tuple, list)):
        return ("sequence", family(value[0]) if value else None)
    if is_sparse(value):
        return ("sparse", value.format)
    return ("object", type(value).__name__)


def same_family(default: Any, value: Any) -> bool:
    """Whether ``value`` may be explored for a parameter whose default is ``default``."""
    fam_default, fam_value = family(default), family(value)
    if fam_default == fam_value:
        return True
    # An empty default sequence accepts any element type; ints may widen to floats in arrays.
    if fam_default[0] == "sequence" and fam_value[0] == "sequence":
        return fam_default[1] is None or fam_value[1] is None
    return False


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


short_repr = _short
