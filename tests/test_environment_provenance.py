"""Config data added by the Environment: name, SHA-1, time, settings, versions."""

from __future__ import annotations

import hashlib
import platform
import re

import numpy as np
import tables

from distenv import __version__, load_trajectory
from distenv.environment import Environment
from distenv.environment.provenance import make_identity, storable


def env_config(traj, env):
    prefix = "config.environment.%s." % env.name
    return {name[len(prefix):]: parameter.f_get()
            for name, parameter in traj.f_get_config().items() if name.startswith(prefix)}


def run_small(env):
    env.trajectory.f_add_parameter("x", 1)
    env.trajectory.f_explore({"x": [1, 2]})
    env.run(lambda traj: traj.x)


def test_environment_name_is_sha7_and_timestamp():
    env = Environment("prov", report_progress=False)
    assert re.fullmatch(r"environment_[0-9a-f]{7}_\d{4}_\d\d_\d\d_\d\dh\d\dm\d\ds", env.name)
    assert env.name == "environment_%s_%s" % (env.hexsha[:7], env.time)
    assert env.v_name == env.name and env.v_hexsha == env.hexsha
    assert env.v_time == env.time and env.v_timestamp == env.timestamp


def test_hash_is_sha1_of_trajectory_name_time_and_version():
    identity = make_identity("traj", 1234.5)
    expected = hashlib.sha1(("traj|1234.5|%s" % __version__).encode()).hexdigest()
    assert identity.hexsha == expected
    assert make_identity("traj", 1234.5000001).hexsha != expected
    assert make_identity("other", 1234.5).hexsha != expected


def test_trajectory_knows_its_environment():
    env = Environment("prov", report_progress=False)
    assert env.trajectory._environment_hash == env.hexsha
    assert env.trajectory._environment_name == env.name
    assert env.trajectory.v_environment_name == env.name


def test_config_data_is_stored_and_loadable():
    env = Environment("prov", comment="why", filename="hdf5/prov.hdf5", complevel=5,
                      report_progress=False)
    run_small(env)
    config = env_config(load_trajectory(filename="hdf5/prov.hdf5"), env)
    assert config["name"] == env.name and config["hexsha"] == env.hexsha
    assert config["timestamp"] == env.timestamp and config["time"] == env.time
    assert config["trajectory.name"] == "prov" and config["comment"] == "why"
    assert config["versions.distenv"] == __version__
    assert config["versions.python"] == platform.python_version()
    assert config["versions.numpy"] == np.__version__
    assert config["versions.tables"] == tables.__version__
    assert config["settings.automatic_storing"] is True or config["settings.automatic_storing"]
    assert config["settings.wrap_mode"] == "LOCK" and config["settings.ncores"] == 1
    assert config["settings.niceness"] == "None"
    assert config["storage.complevel"] == 5 and config["storage.filename"] == "hdf5/prov.hdf5"
    assert config["main_script"] and config["host"]


def test_config_items_are_locked():
    env = Environment("prov", report_progress=False)
    item = env.trajectory.f_get("config.environment.%s.hexsha" % env.name)
    assert item.v_locked


def test_do_single_runs_false_records_identity_and_versions_only():
    env = Environment("prov", do_single_runs=False, report_progress=False)
    config = env_config(env.trajectory, env)
    assert "hexsha" in config and "versions.numpy" in config
    assert not any(name.startswith("settings.") for name in config)


def test_run_table_carries_the_short_hash():
    env = Environment("prov", filename="hdf5/prov.hdf5", report_progress=False)
    run_small(env)
    info = load_trajectory(filename="hdf5/prov.hdf5").f_get_run_information(1)
    assert info["env_hash"] == env.hexsha[:7]


def test_storable_turns_unsupported_values_into_their_repr():
    assert storable(None) == "None"
    assert storable({"a": 1}) == "{'a': 1}"
    assert storable(()) == "()"
    assert storable((90.0, 100.0)) == (90.0, 100.0)
    assert storable(3) == 3
