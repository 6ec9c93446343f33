"""pypet's ``manual_run`` decorator: single runs scheduled by hand, without an Environment.

::

    @manual_run(store_meta_data=True)
    def simulate(traj, extra):
        traj.f_add_result('z', traj.x * traj.y + extra)
        return traj.x * traj.y

    traj.f_store()
    for index in range(len(traj)):
        traj.v_idx = index            # or traj.f_set_crun(index)
        simulate(traj, 1)

Each call is the run ``traj.v_idx``: what it adds goes below ``runs.run_XXXXXXXX`` (with
``turn_into_run=True`` plain names such as ``'z'`` do, as in an Environment's run), is handed to
the storage journal together with the run's row of the run table (completed or failed, start,
finish, host, process) and is acknowledged before the call returns. Calls may come from several
processes at once (see :class:`~distenv.MultiprocContext`). A function decorated like this and
given to an Environment runs as a plain job: the Environment already makes it a run.
"""

from __future__ import annotations

import functools
import os
import time
import traceback
from typing import Any, Callable

from distenv.constants import RUN_COMPLETED, RUN_FAILED
from distenv.environment.worker import HOST
from distenv.errors import ConfigurationError


def manual_run(turn_into_run: bool | Callable[..., Any] = True, store_meta_data: bool = True,
               clean_up: bool = True) -> Callable[..., Any]:
    """Decorate ``function(traj, *args, **kwargs)`` to make it one run of the trajectory.

    Parameters
    ----------
    turn_into_run:
        Make the trajectory a single run during the call: leaves added with plain names go
        below ``runs.run_XXXXXXXX`` and parameters cannot be added. With ``False`` only what
        the function adds below ``runs.crun``/``runs.$`` explicitly belongs to the run.
    store_meta_data:
        Store the run's row of the run table (completed/failed, times, host, process) with
        its data. ``False`` stores the data only; the run is marked in memory.
    clean_up:
        Remove the run's data from memory once it is stored.

    Returns
    -------
    The decorator (``@manual_run`` without parentheses works too).

    Raises
    ------
    ConfigurationError
        When the decorated function is called while ``traj.v_idx`` is -1 (no run chosen).
    """
    if callable(turn_into_run):
        return manual_run()(turn_into_run)
    for name, value in (("turn_into_run", turn_into_run), ("store_meta_data", store_meta_data),
                        ("clean_up", clean_up)):
        if not isinstance(value, bool):
            raise ConfigurationError("manual_run(%s=%r): must be True or False" % (name, value))

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def run(traj: Any, *args: Any, **kwargs: Any) -> Any:
            if traj.v_is_run:  # an Environment (or an enclosing manual run) makes the run
                return function(traj, *args, **kwargs)
            return _make_run(traj, function, args, kwargs, turn_into_run, store_meta_data,
                             clean_up)
        return run
    return decorator


def _make_run(traj: Any, function: Callable[..., Any], args: tuple, kwargs: dict,
              turn_into_run: bool, store_meta_data: bool, clean_up: bool) -> Any:
    index = traj.v_idx
    if index < 0:
        raise ConfigurationError(
            "%s is a manual run, but trajectory %r has no current run (v_idx is -1); choose "
            "one first: traj.v_idx = index or traj.f_set_crun(index)"
            % (getattr(function, "__name__", function), traj.v_name))
    if not traj.v_stored:
        traj.f_store()  # the journal adds runs to a trajectory the file already holds
    run_name = traj.f_idx_to_run(index)
    if turn_into_run:
        traj._set_run(index)
    start = time.time()
    try:
        value = function(traj, *args, **kwargs)
    except BaseException as exc:
        finish = time.time()
        if turn_into_run:
            traj._leave_run(clean_up=True)
        traj._idx = index
        if isinstance(exc, Exception):
            tb = exc.__traceback__
            error = "".join(traceback.format_exception(type(exc), exc, tb.tb_next or tb))
            _record(traj, index, [], None, RUN_FAILED, start, finish, error, store_meta_data)
        raise
    finish = time.time()
    if turn_into_run:
        leaves = traj._leave_run(clean_up=False)
        keys = getattr(leaves, "run_keys", None)
        traj._idx = index
    else:
        leaves, keys = _leaves_of_run(traj, run_name), None
    if keys is not None:
        pairs = [(leaf, key) for leaf, key in zip(leaves, keys) if not leaf._stored]
        leaves, keys = [leaf for leaf, _ in pairs], [key for _, key in pairs]
    else:
        leaves = [leaf for leaf in leaves if not leaf._stored]
    _record(traj, index, leaves, keys, RUN_COMPLETED, start, finish, "", store_meta_data)
    if clean_up:
        traj._remove_run_nodes(run_name)
    return value


def _record(traj: Any, index: int, leaves: list, keys: list | None, status: int, start: float,
            finish: float, error: str, store_meta_data: bool) -> None:
    """Hand the run to storage (acknowledged on return) and mark it in the run table."""
    env_hash = traj.v_environment_hash[:7]
    service = traj.v_storage_service
    if store_meta_data:
        journal = service.run_journal(traj, env_hash)
        journal.store_run(traj, index, leaves, status, start, finish, error, run_keys=keys)
        journal.close()
    elif leaves:
        service.store_leaves(traj, leaves)
    traj._run_table.mark(index, status, start, finish, HOST, os.getpid(), env_hash, error)


def _leaves_of_run(traj: Any, run_name: str) -> list:
    """Every leaf below a group called ``run_name`` (what a run added without becoming one)."""
    leaves = []
    for group in list(traj._by_name.get(run_name, {}).values()):
        if group.v_is_leaf:
            leaves.append(group)
            continue
        stack = [group]
        while stack:
            node = stack.pop()
            if node.v_is_leaf:
                leaves.append(node)
            else:
                stack.extend(node._children.values())
    return leaves
