"""Values <-> HDF5 nodes, natively wherever a native form exists.

Every item becomes one node whose attribute ``DISTENV_KIND`` says how to read it back:

=========  ==========================================================================
kind       stored as
=========  ==========================================================================
none       an empty group
scalar     0-d array; ``PYTYPE`` restores bool/int/float/complex
str/bytes  0-d byte-string array (str encoded with the trajectory's ``encoding``)
npscalar   0-d array of the scalar's dtype
ndarray    (compressed) array of the same dtype and shape
sequence   1-d array; ``SEQTYPE`` tuple/list, ``ELEMTYPE`` restores element types
dict       a group with one node per key
pandas     pandas' own layout (``fixed`` or ``table`` format), readable with pandas
sparse     a group with data/indices/indptr (or row/col/data) and the shape
pickle     uint8 array holding a pickle -- only for objects without a native form
=========  ==========================================================================
"""

from __future__ import annotations

import json
import pickle
import re
from typing import Any

import numpy as np
import tables

from distenv.errors import UnsupportedTypeError
from distenv.trajectory.values import is_sparse, short_repr

KIND = "DISTENV_KIND"
_NATIVE_ARRAY_KINDS = "biufcS"
_PY_SCALARS = {bool: "bool", int: "int", float: "float", complex: "complex"}
_PY_FROM_NAME = {"bool": bool, "int": int, "float": float, "complex": complex,
                 "str": str, "bytes": bytes}
_HDF5_NAME = re.compile(r"^[^/.]+$")


class Context:
    """What writing needs besides the value: filters, encoding, pandas format."""

    def __init__(self, filters: tables.Filters, encoding: str = "utf-8",
                 pandas_format: str = "fixed", pickle_only: bool = False):
        self.filters = filters
        self.encoding = encoding
        self.pandas_format = pandas_format
        self.pickle_only = pickle_only

    @property
    def bookkeeping_filters(self) -> tables.Filters:
        """Filters of distenv's own tables (run table, errors): zlib level 1 when the user's
        data is compressed at all. Readable everywhere (zlib), and at level 9 the run table
        alone took 0.1 s per 20,000 runs to compress for 1 % less size (level 1: 0.03 s)."""
        if not self.filters.complevel:
            return self.filters
        return tables.Filters(complevel=1, complib="zlib", shuffle=True,
                              fletcher32=self.filters.fletcher32)


# -- items kept as attributes of their leaf group ---------------------------------------------
#: Attribute of a leaf group whose items are attributes (see :func:`inline_types`): JSON
#: ``{item: python type}``; each item's value is the attribute ``ITEM_<item>``.
INLINE_ATTR = "DISTENV_INLINE"
INLINE_PREFIX = "ITEM_"
_INLINE_TYPES = {int: "int", float: "float", bool: "bool", str: "str", type(None): "none"}
#: Longest string kept as an attribute (HDF5 attributes are small by design).
MAX_INLINE_STR = 4096


def inline_types(items: dict) -> dict[str, str] | None:
    """``{item: type name}`` if every item is a Python ``int`` (64 bits), ``float``, ``bool``,
    ``str`` (at most :data:`MAX_INLINE_STR` characters, no NUL) or ``None``; else ``None``.

    Such items are written as attributes of the leaf group (:func:`write_inline`) instead of
    one array node each: the environment's provenance (``config.environment.*``, ~40 leaves
    per run of ``env.run``) is written in a third of the time, and HDF5 tools show it as the
    group's attributes, with native types.
    """
    types = {}
    for name, value in items.items():
        kind = _INLINE_TYPES.get(type(value))
        if kind is None or kind == "int" and not -(2 ** 63) <= value < 2 ** 63 or \
                kind == "str" and (len(value) > MAX_INLINE_STR or "\x00" in value):
            return None
        types[name] = kind
    return types


def write_inline(group: tables.Group, items: dict, types: dict[str, str]) -> None:
    attrs = group._v_attrs
    for name, value in items.items():
        if value is not None:
            attrs[INLINE_PREFIX + name] = value
    attrs[INLINE_ATTR] = json.dumps(types)


def read_inline(group: tables.Group) -> dict:
    """The items :func:`write_inline` wrote, with their Python types."""
    attrs = group._v_attrs
    items: dict[str, Any] = {}
    for name, kind in json.loads(attrs[INLINE_ATTR]).items():
        if kind == "none":
            items[name] = None
            continue
        value = attrs[INLINE_PREFIX + name]
        if kind == "str":
            items[name] = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        else:
            items[name] = _PY_FROM_NAME[kind](value)
    return items


def write_item(h5: tables.File, group: tables.Group, name: str, value: Any, ctx: Context) -> None:
    """Write ``value`` as node ``name`` below ``group``."""
    if ctx.pickle_only:
        _write_pickle(h5, group, name, value, ctx)
        return
    kind = type(value)
    if value is None:
        node = h5.create_group(group, name)
        node._v_attrs[KIND] = "none"
    elif kind in _PY_SCALARS:
        if kind is int and not -(2 ** 63) <= value < 2 ** 63:
            _write_pickle(h5, group, name, value, ctx)
            return
        node = h5.create_array(group, name, obj=np.array(value))
        node._v_attrs[KIND] = "scalar"
        node._v_attrs.PYTYPE = _PY_SCALARS[kind]
    elif kind is str or kind is bytes:
        data = value.encode(ctx.encoding) if kind is str else value
        if data.endswith(b"\x00"):  # a fixed-width HDF5 string would drop trailing NULs
            _write_pickle(h5, group, name, value, ctx)
            return
        node = h5.create_array(group, name, obj=np.array(data, dtype="S%d" % max(1, len(data))))
        node._v_attrs[KIND] = kind.__name__
    elif isinstance(value, np.generic) and value.dtype.kind in _NATIVE_ARRAY_KINDS:
        node = h5.create_array(group, name, obj=np.array(value))
        node._v_attrs[KIND] = "npscalar"
    elif kind is np.ndarray and value.dtype.kind in _NATIVE_ARRAY_KINDS:
        _write_array(h5, group, name, value, ctx)
    elif kind in (tuple, list) and value and _homogeneous_scalars(value):
        _write_sequence(h5, group, name, value, ctx)
    elif kind is dict and value and all(isinstance(key, str) and _HDF5_NAME.match(key)
                                        for key in value):
        node = h5.create_group(group, name)
        node._v_attrs[KIND] = "dict"
        node._v_attrs.KEYS = list(value)
        for key, item in value.items():
            write_item(h5, node, key, item, ctx)
    elif _is_pandas(value):
        _write_pandas(h5, group, name, value, ctx)
    elif is_sparse(value):
        _write_sparse(h5, group, name, value, ctx)
    else:
        _write_pickle(h5, group, name, value, ctx)


def read_item(node: tables.Node, ctx: Context | None = None) -> Any:
    """Read back what :func:`write_item` wrote."""
    attrs = node._v_attrs
    kind = attrs[KIND] if KIND in attrs else None
    encoding = ctx.encoding if ctx is not None else "utf-8"
    if kind == "none":
        return None
    if kind == "scalar":
        return _PY_FROM_NAME[attrs.PYTYPE](node.read().item())
    if kind == "str":
        return node.read().item().decode(encoding)
    if kind == "bytes":
        return node.read().item()
    if kind == "npscalar":
        return node.read()[()]
    if kind == "ndarray":
        data = node.read()
        return data if isinstance(data, np.ndarray) else np.asarray(data)
    if kind == "sequence":
        data = node.read()
        element = attrs.ELEMTYPE
        if element == "str":
            items = [item.decode(encoding) for item in data.tolist()]
        elif element == "np":
            items = list(data)
        else:
            items = [_PY_FROM_NAME[element](item) for item in data.tolist()]
        return tuple(items) if attrs.SEQTYPE == "tuple" else items
    if kind == "dict":
        return {key: read_item(node._f_get_child(key), ctx) for key in attrs.KEYS}
    if kind == "pandas":
        return _read_pandas(node)
    if kind == "sparse":
        return _read_sparse(node)
    if kind == "pickle":
        return pickle.loads(node.read().tobytes())
    raise UnsupportedTypeError("node %s has no distenv kind; it was not written by distenv"
                               % node._v_pathname)


def _homogeneous_scalars(value: list | tuple) -> bool:
    first = type(value[0])
    if not all(type(item) is first for item in value):
        return False
    if first is str or first is bytes:  # fixed-width strings would drop trailing NULs
        return not any(item.endswith("\x00" if first is str else b"\x00") for item in value)
    if first in _PY_SCALARS:
        return first is not int or all(-(2 ** 63) <= item < 2 ** 63 for item in value)
    return isinstance(value[0], np.generic) and value[0].dtype.kind in _NATIVE_ARRAY_KINDS


def _write_array(h5: tables.File, group: tables.Group, name: str, value: np.ndarray,
                 ctx: Context) -> tables.Node:
    if value.size and value.ndim:
        node = h5.create_carray(group, name, obj=value, filters=ctx.filters)
    else:
        node = h5.create_array(group, name, obj=value)
    node._v_attrs[KIND] = "ndarray"
    return node


def _write_sequence(h5: tables.File, group: tables.Group, name: str, value: Any,
                    ctx: Context) -> None:
    first = value[0]
    if type(first) is str:
        encoded = [item.encode(ctx.encoding) for item in value]
        array = np.array(encoded, dtype="S%d" % max(1, max(map(len, encoded))))
        element = "str"
    elif type(first) is bytes:
        array = np.array(value, dtype="S%d" % max(1, max(map(len, value))))
        element = "bytes"
    elif isinstance(first, np.generic):
        array = np.array(value, dtype=first.dtype)
        element = "np"
    else:
        array = np.array(value)
        element = _PY_SCALARS[type(first)]
    node = h5.create_array(group, name, obj=array)
    node._v_attrs[KIND] = "sequence"
    node._v_attrs.SEQTYPE = type(value).__name__
    node._v_attrs.ELEMTYPE = element


def check_storable(name: str, value: Any, pickle_only: bool = False) -> None:
    """Raise :class:`UnsupportedTypeError` now if :func:`write_item` would fail later (a value
    without a native form that cannot be pickled) -- before it is buffered with other data."""
    if not pickle_only:
        kind = type(value)
        if value is None or kind in _PY_SCALARS or kind is str or kind is bytes or \
                (isinstance(value, (np.generic, np.ndarray)) and
                 value.dtype.kind in _NATIVE_ARRAY_KINDS) or _is_pandas(value) or \
                is_sparse(value) or (kind in (tuple, list) and value and
                                     _homogeneous_scalars(value)):
            return
        if kind is dict and value and all(isinstance(key, str) and _HDF5_NAME.match(key)
                                          for key in value):
            for key, item in value.items():
                check_storable(key, item)
            return
    try:
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise UnsupportedTypeError("cannot store %s (type %s) as %r: it has no native HDF5 form "
                                   "and cannot be pickled (%s)"
                                   % (short_repr(value), type(value).__name__, name, exc)) from exc


def _write_pickle(h5: tables.File, group: tables.Group, name: str, value: Any,
                  ctx: Context) -> None:
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise UnsupportedTypeError("cannot store %s (type %s) as %r: it has no native HDF5 form "
                                   "and cannot be pickled (%s)"
                                   % (short_repr(value), type(value).__name__, name, exc)) from exc
    array = np.frombuffer(data, dtype=np.uint8)
    node = (h5.create_carray(group, name, obj=array, filters=ctx.filters) if len(array)
            else h5.create_array(group, name, obj=array))
    node._v_attrs[KIND] = "pickle"


def _is_pandas(value: Any) -> bool:
    module = type(value).__module__
    if not module.startswith("pandas"):
        return False
    import pandas as pd
    return isinstance(value, (pd.DataFrame, pd.Series))


def pandas_store(h5: tables.File) -> Any:
    """A pandas HDFStore that works on an already open PyTables file."""
    from pandas import HDFStore
    from pandas.io import pytables as pandas_pytables
    pandas_pytables._tables()  # pandas imports PyTables lazily; HDFStore.__init__ would do this
    store = HDFStore.__new__(HDFStore)
    store._path = h5.filename
    store._mode = h5.mode
    store._handle = h5
    store._complevel = 0
    store._complib = None
    store._fletcher32 = False
    store._filters = None
    return store


def _write_pandas(h5: tables.File, group: tables.Group, name: str, value: Any,
                  ctx: Context) -> None:
    store = pandas_store(h5)
    key = "%s/%s" % (group._v_pathname.rstrip("/"), name)
    fmt = "table" if ctx.pandas_format in ("t", "table") else "fixed"
    if fmt == "table" and value.empty:
        fmt = "fixed"  # pandas silently writes nothing for an empty object in table format
    # pandas refuses complib= for the fixed format; both formats take the store's filters
    store._filters = ctx.filters
    try:
        store.put(key, value, format=fmt, track_times=False)
    except (TypeError, ValueError) as exc:
        if key in store:
            h5.remove_node(key, recursive=True)
        if fmt == "table":
            store.put(key, value, format="fixed", track_times=False)
        else:
            raise UnsupportedTypeError("cannot store the pandas object %r: %s" % (name, exc)) from exc
    h5.get_node(key)._v_attrs[KIND] = "pandas"


def _read_pandas(node: tables.Node) -> Any:
    store = pandas_store(node._v_file)
    return store.get(node._v_pathname)


def _write_sparse(h5: tables.File, group: tables.Group, name: str, value: Any,
                  ctx: Context) -> None:
    node = h5.create_group(group, name)
    node._v_attrs[KIND] = "sparse"
    fmt = value.format
    node._v_attrs.FORMAT = fmt
    node._v_attrs.SHAPE = tuple(int(n) for n in value.shape)
    node._v_attrs.IS_ARRAY = type(value).__name__.endswith("_array")
    if fmt not in ("csr", "csc", "bsr"):
        value = value.tocsr()
    parts = {"data": value.data, "indices": value.indices, "indptr": value.indptr}
    for part, array in parts.items():
        _write_array(h5, node, part, np.ascontiguousarray(array), ctx)


def _read_sparse(node: tables.Node) -> Any:
    import scipy.sparse as sparse
    attrs = node._v_attrs
    fmt = attrs.FORMAT
    parts = tuple(node._f_get_child(part).read() for part in ("data", "indices", "indptr"))
    stored = fmt if fmt in ("csr", "csc", "bsr") else "csr"
    prefix = "array" if attrs.IS_ARRAY else "matrix"
    matrix = getattr(sparse, "%s_%s" % (stored, prefix))(parts, shape=tuple(attrs.SHAPE))
    return matrix.asformat(fmt)
