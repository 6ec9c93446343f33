"""distenv: parameter exploration for numerical experiments, from a laptop to SGE/SLURM,
SCOOP and Dask clusters, with every result and its provenance in one HDF5 file.

The API is pypet's (``Environment``, ``Trajectory``, ``f_add_parameter``, ...), with clean
unprefixed names beside the ``f_``/``v_`` ones.
"""

import os as _os

# Before HDF5 is loaded (it reads this once): distenv never writes a file in place -- a store
# writes a new file and renames it, under distenv's own lock -- so HDF5's file locks add
# nothing, and a process forked while a file was open (a run of the process executor, a pool
# worker) inherited them: the next open of that file failed with errno 11 until the child
# ended. Set the variable yourself to keep HDF5's locks (see docs/storage.md).
_os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

from distenv.errors import *  # noqa: E402,F401,F403  (the exception tree is public API)
from distenv.storage import HDF5StorageService, load_trajectory
from distenv.storage.merge import merge_all_in_folder
from distenv.trajectory import (ArrayParameter, Parameter, PickleParameter, PickleResult, Result,
                                SparseParameter, SparseResult, Trajectory, cartesian_product)
from distenv.version import __version__
from distenv.environment import Environment  # last: it builds on everything above
from distenv.environment.manual_run import manual_run
from distenv.environment.multiproc_context import MultiprocContext

__all__ = ["ArrayParameter", "Environment", "HDF5StorageService", "MultiprocContext",
           "Parameter", "PickleParameter", "PickleResult", "Result", "SparseParameter",
           "SparseResult", "Trajectory", "__version__", "cartesian_product", "load_trajectory",
           "manual_run", "merge_all_in_folder"]
