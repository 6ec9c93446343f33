"""MultiprocContext (issue 5): real ``multiprocessing`` processes store into one trajectory at
the same time -- overwriting one result, adding their own results, making manual runs -- and
the file holds everything exactly once afterwards."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest
import tables

from distenv import MultiprocContext, Trajectory, load_trajectory, manual_run
from distenv.errors import ConfigurationError
from distenv.storage import journal

TIMEOUT = 180


def pool(method: str, processes: int = 4):
    return mp.get_context(method).Pool(processes)


def new_trajectory(name: str = "shared", runs: int = 0, **keywords) -> Trajectory:
    traj = Trajectory(name, filename="hdf5/%s.hdf5" % name, **keywords)
    traj.f_add_parameter("x", 0)
    traj.f_add_parameter("y", 0)
    if runs:
        traj.f_explore({"x": list(range(runs)), "y": [index % 3 for index in range(runs)]})
    return traj


# -- the worker functions (module level: the pool pickles them) ------------------------------------
def manipulate_multiproc_safe(traj):
    """pypet's example 16: every task overwrites the same stored result. (pypet writes
    ``traj.last_process_name = name``; assigning through natural naming is not in distenv's
    trajectory yet, so the leaf is set explicitly.)"""
    traj.f_get("last_process_name").f_set(mp.current_process().name)
    traj.results.f_store(store_data=3)
    return mp.current_process().name


def add_own_results(traj, worker: int, count: int = 5):
    for number in range(count):
        traj.f_add_result("by_worker.w%d_%d" % (worker, number), worker * 100 + number)
        traj.f_store_item("by_worker.w%d_%d" % (worker, number))
    traj.f_add_result("whole.w%d" % worker, [worker] * 3)
    traj.f_store()
    return os.getpid()


@manual_run(store_meta_data=True)
def evaluate(traj, bonus):
    traj.f_add_result("$set.$.fitness", traj.x * 10 + traj.y + bonus)
    traj.f_add_result("individual", [traj.x, traj.y])
    return traj.x * 10 + traj.y + bonus


def evaluate_run(item):
    traj, index = item
    traj.v_idx = index
    return index, evaluate(traj, 0.5), os.getpid()


# -- tests ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_processes_overwriting_one_result(method):
    traj = new_trajectory(overwrite_file=True)
    traj.f_add_result("last_process_name", "N/A",
                      comment="Name of the last process that manipulated the trajectory")
    with MultiprocContext(trajectory=traj, wrap_mode="LOCK") as context:
        assert context.started
        traj.f_store()
        with pool(method) as workers:
            names = workers.map_async(manipulate_multiproc_safe,
                                      [traj] * 40).get(timeout=TIMEOUT)
    assert not context.started
    traj.results.f_load(load_data=3)
    assert traj.last_process_name in set(names) and len(set(names)) > 1
    with tables.open_file("hdf5/shared.hdf5") as h5:  # plain PyTables opens it
        h5.get_node("/shared/results/last_process_name")
    assert load_trajectory(filename="hdf5/shared.hdf5").last_process_name in set(names)


@pytest.mark.parametrize("wrap_mode", ["LOCK", "QUEUE", "PIPE", "NONE"])
def test_processes_adding_their_own_results_at_once(wrap_mode):
    traj = new_trajectory()
    with MultiprocContext(traj, wrap_mode=wrap_mode):  # start() stores the new trajectory
        with pool("fork") as workers:
            pids = workers.starmap_async(add_own_results,
                                         [(traj, worker) for worker in range(8)]).get(TIMEOUT)
    assert len(set(pids)) > 1
    loaded = load_trajectory(filename="hdf5/shared.hdf5")
    for worker in range(8):
        for number in range(5):
            assert loaded.f_get("results.by_worker.w%d_%d" % (worker, number)).f_get() == \
                worker * 100 + number
        assert loaded.f_get("results.whole.w%d" % worker).f_get() == [worker] * 3


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_manual_runs_in_a_pool_are_each_stored_once(method):
    runs = 60
    traj = new_trajectory(runs=runs)
    traj.f_store()
    context = MultiprocContext(traj, wrap_mode="QUEUE")
    context.f_start()
    with pool(method) as workers:
        made = workers.map_async(evaluate_run, [(traj, index) for index in range(runs)],
                                 chunksize=3).get(TIMEOUT)
    context.f_finalize()
    assert sorted(index for index, _, _ in made) == list(range(runs))
    assert len({pid for _, _, pid in made}) > 1
    assert traj.f_is_completed()  # finalize read back the run table the workers stored
    assert not journal.list_shards(journal.journal_dir(
        traj.v_storage_service.filename_for("shared"), "shared"))  # compacted
    with tables.open_file("hdf5/shared.hdf5") as h5:
        indices = h5.get_node("/shared/run_table").col("index").tolist()
    assert sorted(indices) == list(range(runs))
    loaded = load_trajectory(filename="hdf5/shared.hdf5")
    fitness = loaded.f_get_from_runs("fitness", fast_access=True, use_indices=True)
    assert fitness == {index: index * 10 + index % 3 + 0.5 for index in range(runs)}
    individuals = loaded.f_get_from_runs("individual", fast_access=True, use_indices=True)
    assert individuals == {index: [index, index % 3] for index in range(runs)}
    hosts = {loaded.f_get_run_information(index)["pid"] for index in range(runs)}
    assert hosts == {pid for _, _, pid in made}


def test_the_file_is_readable_while_workers_still_store():
    """Runs acknowledged by workers are read (main file + shards) before any compaction."""
    traj = new_trajectory(runs=10)
    with MultiprocContext(traj):
        with pool("fork", 2) as workers:
            workers.map_async(evaluate_run, [(traj, index) for index in range(10)]).get(TIMEOUT)
        middle = load_trajectory(filename="hdf5/shared.hdf5")
        assert middle.f_is_completed()
    assert load_trajectory(filename="hdf5/shared.hdf5").f_is_completed()


def test_start_and_finalize_are_idempotent_and_named_as_in_pypet():
    traj = new_trajectory()
    context = MultiprocContext(traj, full_copy=True, queue_maxsize=10, gc_interval=5,
                               timeout=30)
    assert context.start() is context and context.f_start() is context
    assert traj.v_stored
    context.finalize()
    context.f_finalize()
    assert not context.started
    assert "shared" in repr(context) and context.wrap_mode == "LOCK"


@pytest.mark.parametrize("keywords,message", [
    ({"wrap_mode": "LOCAL"}, "LOCAL needs an Environment"),
    ({"wrap_mode": "FAST"}, r"wrap_mode='FAST'\) is invalid: use one of 'LOCK'"),
    ({"full_copy": "yes"}, "full_copy must be None, True or False"),
    ({"use_manager": 1}, "use_manager must be True or False"),
    ({"queue_maxsize": -5}, "queue_maxsize=-5 is invalid"),
    ({"gc_interval": 0}, "gc_interval=0 is invalid"),
])
def test_bad_settings_are_named(keywords, message):
    with pytest.raises(ConfigurationError, match=message):
        MultiprocContext(new_trajectory(), **keywords)


def test_it_needs_a_trajectory():
    with pytest.raises(ConfigurationError, match="needs a Trajectory"):
        MultiprocContext("traj")
