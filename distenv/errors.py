"""Every exception distenv raises on purpose.

Each class also subclasses the builtin a caller would naturally catch, so
``except ValueError`` keeps working for code written against pypet.

::

    DistenvError(Exception)
    ├── ConfigurationError(ValueError)        bad keyword, value or combination of options
    │   ├── UnknownKeywordError(TypeError)    a keyword nobody understands
    │   ├── CompressionUnavailableError       complib not compiled into this HDF5/PyTables
    │   └── MissingDependencyError(ImportError)  an optional extra is not installed
    ├── NamingError                            natural naming
    │   ├── NodeNotFoundError(AttributeError, KeyError)
    │   ├── NotUniqueNodeError(LookupError)   a short name matches several nodes
    │   ├── NodeExistsError(ValueError)       adding a node whose name is taken
    │   ├── NotALeafError(AttributeError)     assigning a value to a group (traj.group = 3)
    │   └── InvalidNameError(ValueError)      a name that cannot become a node
    ├── ParameterLockedError(TypeError)       changing a parameter while a run uses it
    ├── UnsupportedTypeError(TypeError)       a value a parameter/result cannot hold
    ├── ExplorationError(ValueError)          f_explore / f_expand / cartesian_product input
    ├── StorageError(OSError)                 anything between memory and disk
    │   ├── CorruptFileError                  unreadable or truncated HDF5 file
    │   ├── TrajectoryNotFoundError(LookupError)
    │   └── TrajectoryExistsError(FileExistsError)
    ├── RunFailedError(RuntimeError)          a job raised; carries run index + traceback
    │   ├── RunTimeoutError                   a run exceeded ``timeout`` and was stopped
    │   └── WorkerDiedError                   a worker process vanished (signal, OOM kill)
    ├── MergeError(ValueError)                incompatible trajectories or inputs
    └── GitDiffError(RuntimeError)            git_fail=True and the work tree is dirty
"""

from __future__ import annotations


class DistenvError(Exception):
    """Base of every distenv exception."""


class ConfigurationError(DistenvError, ValueError):
    """An option has a wrong value, or options do not go together."""


class UnknownKeywordError(ConfigurationError, TypeError):
    """A keyword argument that no part of distenv understands."""


class CompressionUnavailableError(ConfigurationError):
    """The requested compression library is not available in this HDF5 build."""


class MissingDependencyError(DistenvError, ImportError):
    """An optional dependency (an extra) is needed for the requested feature."""


class NamingError(DistenvError):
    """Base of natural-naming problems."""


class NodeNotFoundError(NamingError, AttributeError, KeyError):
    """No node of that name exists where it was looked for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NotUniqueNodeError(NamingError, LookupError):
    """A short name matches more than one node; the message lists them."""


class NodeExistsError(NamingError, ValueError):
    """A node of that full name already exists."""


class NotALeafError(NamingError, AttributeError):
    """A value was assigned to a group through natural naming (``traj.mygroup = 3``)."""


class InvalidNameError(NamingError, ValueError):
    """A name that is reserved or not a valid identifier."""


class ParameterLockedError(DistenvError, TypeError):
    """A locked parameter (one a run is using) was asked to change."""


class UnsupportedTypeError(DistenvError, TypeError):
    """A value of a type the parameter or result class cannot hold."""


class ExplorationError(DistenvError, ValueError):
    """Bad input to f_explore, f_expand or cartesian_product."""


class StorageError(DistenvError, OSError):
    """A problem reading or writing trajectory data."""

    def __str__(self) -> str:  # OSError would format (errno, strerror)
        return str(self.args[0]) if self.args else ""


class CorruptFileError(StorageError):
    """An HDF5 file that cannot be read (truncated, not HDF5, damaged)."""


class TrajectoryNotFoundError(StorageError, LookupError):
    """The file does not hold the requested trajectory."""


class TrajectoryExistsError(StorageError, FileExistsError):
    """A trajectory of that name is already in the file."""


class RunFailedError(DistenvError, RuntimeError):
    """A job raised. ``run_index`` and ``remote_traceback`` say where and why."""

    def __init__(self, message: str, run_index: int | None = None,
                 remote_traceback: str | None = None):
        super().__init__(message)
        self.run_index = run_index
        self.remote_traceback = remote_traceback


class RunTimeoutError(RunFailedError):
    """A run exceeded its ``timeout``; its process was killed."""


class WorkerDiedError(RunFailedError):
    """A worker process ended without reporting (killed, segfault, OOM)."""


class MergeError(DistenvError, ValueError):
    """Trajectories cannot be merged; the message names the file and item."""


class GitDiffError(DistenvError, RuntimeError):
    """``git_fail=True`` and the repository has uncommitted changes."""
