"""QUEUE and PIPE: the writer's channel when a sender dies in the middle of a message.

Fault injection only: the writer, its socket, the journal and the HDF5 file are real; a
forked "worker" writes half a message by hand and kills itself, as a worker killed by a
``timeout`` in the middle of a send would.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection as mpc
import os
import signal
import socket
import struct
import time

import pytest

from distenv import Trajectory, load_trajectory
from distenv.constants import RUN_COMPLETED
from distenv.environment.specs import StorageModeSpec
from distenv.modes import create_mode

FORK = multiprocessing.get_context("fork")


def _trajectory(tmp_path, runs=4):
    traj = Trajectory("chan", filename=str(tmp_path / "chan.hdf5"))
    traj.f_add_parameter("x", 0)
    traj.f_explore({"x": list(range(runs))})
    traj.f_store()
    return traj


def _send_run(traj, worker_side, index):
    """What a worker does for run ``index``: make it, hand it to the worker side."""
    from distenv.environment.worker import RunSpec, execute_run
    outcome = execute_run(traj, RunSpec(index, lambda t: t.f_add_result("z", t.x * 10)))
    assert outcome.status == RUN_COMPLETED
    worker_side.handle(traj, outcome)


def _in_child(target, *args):
    """Run ``target(*args)`` in a forked process (as a worker); return its exit code."""
    child = FORK.Process(target=target, args=args)
    child.start()
    child.join(60)
    return child.exitcode


def _stored_statuses(traj, mode, tmp_path):
    """Let the writer end, compact the journal; the run statuses the file then holds."""
    mode.finish()
    traj.f_store()
    return load_trajectory(filename=str(tmp_path / "chan.hdf5"))._run_table.status.tolist()


def _half_a_message_then_die(address, authkey):
    connection = mpc.Client(address, family="AF_UNIX", authkey=authkey)
    # a length header announcing 100 kB, then 10 bytes of it: the rest never comes
    os.write(connection.fileno(), struct.pack("!i", 100_000) + b"0123456789")
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("wrap_mode", ["QUEUE", "PIPE"])
def test_a_sender_killed_mid_message_does_not_block_the_writer(tmp_path, wrap_mode):
    traj = _trajectory(tmp_path)
    mode = create_mode(StorageModeSpec(wrap_mode=wrap_mode))
    worker_side = mode.start(traj, traj.v_storage_service, "", 2)
    channel = worker_side.channel

    assert _in_child(_send_run, traj, worker_side, 0) == 0
    assert _in_child(_half_a_message_then_die, channel.address, channel.authkey) == \
        -signal.SIGKILL
    assert _in_child(_send_run, traj, worker_side, 1) == 0  # the writer goes on

    started = time.monotonic()
    mode.finish()  # raised or hung (up to an hour) with one shared pipe
    assert time.monotonic() - started < 30
    assert not os.path.exists(channel.directory)

    traj.f_store()
    loaded = load_trajectory(filename=str(tmp_path / "chan.hdf5"), load_results=2)
    status = loaded._run_table.status.tolist()
    assert status[:2] == [RUN_COMPLETED, RUN_COMPLETED] and status[2:] == [0, 0]
    values = loaded.f_get_from_runs("z", fast_access=True)
    assert [values[name] for name in loaded.f_get_run_names()[:2]] == [0, 10]


def test_a_connection_without_the_key_is_refused_and_the_writer_goes_on(tmp_path):
    traj = _trajectory(tmp_path)
    mode = create_mode(StorageModeSpec(wrap_mode="QUEUE"))
    worker_side = mode.start(traj, traj.v_storage_service, "", 2)
    channel = worker_side.channel
    with pytest.raises(mpc.AuthenticationError):
        mpc.Client(channel.address, family="AF_UNIX", authkey=b"not the key")
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # no handshake at all
    raw.connect(channel.address)
    raw.sendall(struct.pack("!i", 5) + b"hello")
    raw.close()
    assert _in_child(_send_run, traj, worker_side, 2) == 0
    assert _stored_statuses(traj, mode, tmp_path) == [0, 0, RUN_COMPLETED, 0]


def test_the_channel_lives_in_a_private_folder_removed_after_an_abort(tmp_path):
    traj = _trajectory(tmp_path)
    mode = create_mode(StorageModeSpec(wrap_mode="PIPE"))
    worker_side = mode.start(traj, traj.v_storage_service, "", 2)
    directory = worker_side.channel.directory
    assert os.stat(directory).st_mode & 0o777 == 0o700
    mode.abort()
    assert not os.path.exists(directory)


def test_a_long_temporary_folder_still_gives_a_socket_that_binds(tmp_path, monkeypatch):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(deep))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read $TMPDIR
    traj = _trajectory(tmp_path)
    mode = create_mode(StorageModeSpec(wrap_mode="QUEUE"))
    worker_side = mode.start(traj, traj.v_storage_service, "", 2)
    assert len(worker_side.channel.address) <= 100
    assert _in_child(_send_run, traj, worker_side, 3) == 0
    assert _stored_statuses(traj, mode, tmp_path) == [0, 0, 0, RUN_COMPLETED]
