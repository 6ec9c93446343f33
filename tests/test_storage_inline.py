"""Config leaves with plain values are attributes of their leaf group (codecs.inline_types).

Checked in the file itself: the values are native HDF5 attributes (h5py reads them), the group
has no child node, every plain type and its edges round-trip with its Python type, values that
do not qualify keep their array node, parameters and results are not affected, and a config
leaf written the older way (an array node per item) still loads.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import tables

from distenv import Trajectory, load_trajectory
from distenv.storage import codecs, layout

PLAIN = {
    "int": 42, "negative": -(2 ** 63), "largest": 2 ** 63 - 1, "float": 1.25,
    "nan": float("nan"), "inf": float("-inf"), "true": True, "false": False,
    "text": "Grüße ☃", "empty": "", "none": None, "long": "x" * codecs.MAX_INLINE_STR,
}
NOT_PLAIN = {
    "too_big": 2 ** 63, "too_long": "x" * (codecs.MAX_INLINE_STR + 1), "nul": "a\x00b",
    "numpy": np.float32(1.5), "tuple": (1, 2), "complex": 1j, "bytes": b"raw",
}


def _store(tmp_path, values: dict) -> Trajectory:
    traj = Trajectory("inline", filename=str(tmp_path / "i.hdf5"))
    for name, value in values.items():
        traj.f_add_config("settings.%s" % name, value, comment="c %s" % name)
    traj.f_add_parameter("x", 1.5)
    traj.f_add_result("r", 3)
    traj.f_store()
    return traj


def _same(expected, found) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(found, float) and math.isnan(found)
    return type(found) is type(expected) and found == expected


def test_plain_config_values_are_attributes_of_their_group(tmp_path):
    _store(tmp_path, PLAIN)
    with tables.open_file(str(tmp_path / "i.hdf5")) as h5:
        for name in PLAIN:
            group = h5.get_node("/inline/config/settings/%s" % name)
            assert isinstance(group, tables.Group) and not group._v_children
            assert codecs.INLINE_ATTR in group._v_attrs
        # parameters and results keep their array nodes
        assert isinstance(h5.get_node("/inline/parameters/x/data"), tables.Array)
        assert isinstance(h5.get_node("/inline/results/r/r"), tables.Array)
    with h5py.File(str(tmp_path / "i.hdf5"), "r") as h5:
        assert h5["/inline/config/settings/int"].attrs["ITEM_data"] == 42
        assert h5["/inline/config/settings/float"].attrs["ITEM_data"] == 1.25
        assert h5["/inline/config/settings/text"].attrs["ITEM_data"] in ("Grüße ☃",
                                                                         "Grüße ☃".encode())
    loaded = load_trajectory("inline", filename=str(tmp_path / "i.hdf5"))
    for name, value in PLAIN.items():
        leaf = loaded.f_get("config.settings.%s" % name)
        assert _same(value, leaf.f_get()), name
        assert leaf.v_comment == "c %s" % name


def test_values_that_are_not_plain_keep_their_array_node(tmp_path):
    _store(tmp_path, NOT_PLAIN)
    with tables.open_file(str(tmp_path / "i.hdf5")) as h5:
        for name in NOT_PLAIN:
            group = h5.get_node("/inline/config/settings/%s" % name)
            assert "data" in group and codecs.INLINE_ATTR not in group._v_attrs, name
    loaded = load_trajectory("inline", filename=str(tmp_path / "i.hdf5"))
    for name, value in NOT_PLAIN.items():
        found = loaded.f_get("config.settings.%s" % name).f_get()
        assert type(found) is type(value) and found == value, name


def test_a_config_leaf_of_the_older_layout_still_loads(tmp_path):
    traj = _store(tmp_path, {"kept": 1})
    path = tmp_path / "i.hdf5"
    with tables.open_file(str(path), "a") as h5:  # as distenv wrote config leaves before
        parent = h5.get_node("/inline/config/settings")
        group = h5.create_group(parent, "older")
        group._v_attrs[layout.LEAF_ATTR] = "Parameter"
        group._v_attrs[layout.COMMENT_ATTR] = "from before"
        codecs.write_item(h5, group, "data", "old value", traj.v_storage_service.ctx)
    loaded = load_trajectory("inline", filename=str(path))
    assert loaded.f_get("config.settings.older").f_get() == "old value"
    assert loaded.f_get("config.settings.kept").f_get() == 1


def test_a_config_leaf_added_after_the_first_store_is_stored_by_the_next(tmp_path):
    traj = _store(tmp_path, {"first": 1})
    traj.f_add_config("settings.second", "two")
    traj.f_store()
    loaded = load_trajectory("inline", filename=str(tmp_path / "i.hdf5"))
    assert loaded.f_get("config.settings.first").f_get() == 1
    assert loaded.f_get("config.settings.second").f_get() == "two"
