"""Where runs execute: the executor protocol, its registry and the local backends.

========  ==========================================  ==================================
name      class                                       pypet flags
========  ==========================================  ==================================
serial    :class:`~.serial.SerialExecutor`            ``multiproc=False``
pool      :class:`~.pool.PoolExecutor`                ``multiproc=True, use_pool=True``
process   :class:`~.process.ProcessExecutor`          ``multiproc=True, use_pool=False``
========  ==========================================  ==================================

Executors run plain callables and know nothing about trajectories. Workers get
``OPENBLAS_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1`` (and the like) unless
the caller's environment sets them or ``blas_threads=None`` is passed.
"""

from distenv.executors.base import (LOCAL_PROCESS_MODES, USE_DEFAULT, DistenvExecutor,
                                    TaskOutcome)
from distenv.executors.frozen import FrozenCall
from distenv.executors.options import BLAS_ENV_VARS
from distenv.executors.registry import (available_executors, create_executor,
                                        get_executor_class, register_executor,
                                        unregister_executor)


def __getattr__(name: str):  # the backends import lazily
    classes = {"SerialExecutor": "serial", "PoolExecutor": "pool",
               "ProcessExecutor": "process"}
    if name in classes:
        return get_executor_class(classes[name])
    raise AttributeError(f"module 'distenv.executors' has no attribute {name!r}")


__all__ = ["BLAS_ENV_VARS", "DistenvExecutor", "FrozenCall", "LOCAL_PROCESS_MODES",
           "PoolExecutor", "ProcessExecutor", "SerialExecutor", "TaskOutcome", "USE_DEFAULT",
           "available_executors", "create_executor", "get_executor_class",
           "register_executor", "unregister_executor"]
