"""Where runs execute: the executor protocol, its registry and the local backends.

========  ==========================================  ==================================
name      class                                       pypet flags
========  ==========================================  ==================================
serial    :class:`~.serial.SerialExecutor`            ``multiproc=False``
pool      :class:`~.pool.PoolExecutor`                ``multiproc=True, use_pool=True``
process   :class:`~.process.ProcessExecutor`          ``multiproc=True, use_pool=False``
========  ==========================================  ==================================

Executors run plain callables and know nothing about trajectories. Every one is a
:class:`concurrent.futures.Executor` (see :mod:`~distenv.executors.base` for what distenv adds).
A sweep runs best as one batch, frozen input and a stream of outcomes::

    with get_executor_class("pool")(ncores=4, timeout=600, niceness=10) as executor:
        job = executor.freeze(run_one, trajectory, *args)   # sent to the workers once
        for outcome in executor.imap_outcomes(job, [(i,) for i in indices], task_ids=indices,
                                              ordered=not immediate_postproc):
            ...  # outcome.task_id, outcome.value, or outcome.error: RunFailedError,
                 # WorkerDiedError, or CancelledError after stop_submitting()

For many tiny tasks, ``imap_outcome_blocks`` yields the same outcomes in lists, as the backend
receives them (a pool: one list per message of a worker), so the caller handles a list at a
time; its default makes one-element lists from ``imap_outcomes``, so a new backend needs only
the latter. ``imap_result_blocks`` gives the same blocks as ``(task ids, values, errors)``
without an object per task (what ``env.run`` uses; its default is built on
``imap_outcome_blocks``). Tasks that differ only in their first argument can be handed over as
one :class:`SharedArguments`.

``executor.stop_submitting()`` may be called from a SIGINT handler (graceful exit): no task
starts any more, running ones finish. Workers ignore SIGINT. Leaving the ``with`` block on
``KeyboardInterrupt`` kills running tasks.

Workers get ``OPENBLAS_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1`` (and the
other variables of :data:`BLAS_ENV_VARS`) unless the caller's environment sets them or
``blas_threads=None`` is passed. They bound the libraries a worker loads; numpy's OpenBLAS
loaded in the caller before the fork keeps what it read at import: set the variables before
importing numpy to bound it too (pypet's advice).
"""

from distenv.executors.base import (LOCAL_PROCESS_MODES, USE_DEFAULT, DistenvExecutor,
                                    TaskOutcome)
from distenv.executors.frozen import FrozenCall
from distenv.executors.options import BLAS_ENV_VARS
from distenv.executors.tasks import SharedArguments
from distenv.executors.registry import (available_executors, create_executor,
                                        get_executor_class, register_executor,
                                        unregister_executor)


def __getattr__(name: str) -> type:  # the backends import lazily
    classes = {"SerialExecutor": "serial", "PoolExecutor": "pool",
               "ProcessExecutor": "process"}
    if name in classes:
        return get_executor_class(classes[name])
    raise AttributeError(f"module 'distenv.executors' has no attribute {name!r}")


__all__ = ["BLAS_ENV_VARS", "DistenvExecutor", "FrozenCall", "LOCAL_PROCESS_MODES",
           "PoolExecutor", "ProcessExecutor", "SerialExecutor", "SharedArguments", "TaskOutcome",
           "USE_DEFAULT",
           "available_executors", "create_executor", "get_executor_class",
           "register_executor", "unregister_executor"]
