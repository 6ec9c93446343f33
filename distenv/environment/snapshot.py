"""Resume snapshots on disk: what a crashed sweep needs besides its HDF5 file.

A resumable sweep keeps, in ``<resume_folder>/<trajectory name>/``:

``round_00000.dill``, ``round_00001.dill``, ...
    One :class:`RoundSnapshot` per round of runs (a round is the first batch of runs, and each
    batch that post-processing adds by expanding the trajectory): the job and its arguments --
    for ``run_map`` the argument of every run of the round, materialised --, the
    post-processing function with its arguments, the storage service and the trajectory's
    name. Written with dill, to a temporary name, fsynced, then renamed: a snapshot file is
    complete or absent.
``values-<time_ns>-<host>-<pid>.log``
    What each job returned, appended by the process that made the run *before* the run is
    handed to storage (:class:`RecordingJob`), so a run the storage acknowledged has its
    return value here (after a power loss maybe not: then :mod:`~distenv.environment.resume`
    computes the value again without storing it). Records are length- and CRC-framed; a torn
    last record (the writer was killed while appending) is ignored.

Which runs are done is *not* recorded here: the trajectory's file and its journal shards are the
only truth about completed runs (``docs/storage.md``).
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import dill
import numpy as np

from distenv.errors import ConfigurationError, CorruptFileError
from distenv.storage.files import commit_temporary

logger = logging.getLogger("distenv.environment.resume")

#: Default ``resume_folder`` (pypet: a folder ``resume`` in the working directory).
DEFAULT_RESUME_FOLDER = "resume"
SNAPSHOT_FORMAT = 1
ROUND_PREFIX, ROUND_SUFFIX = "round_", ".dill"
VALUES_PREFIX, VALUES_SUFFIX = "values-", ".log"
_MAGIC = b"\xd1DVR"  # starts every value record
_HEADER = struct.Struct("<QIB")  # payload length, crc32 of the payload, codec (0 pickle, 1 dill)
_HOST = socket.gethostname().replace("-", "_")


@dataclass(frozen=True)
class RoundSnapshot:
    """Everything needed to make (again) the runs of one round and what follows them.

    Attributes
    ----------
    trajectory_name, filename:
        The trajectory and its HDF5 file (absolute path, for messages).
    service:
        The storage service (a copy that never overwrites the file).
    dynamic_imports, wildcard_functions:
        What loading the trajectory needs.
    session:
        Name of the Environment that started the sweep; post-processing rounds are recorded
        below ``config.environment.<session>.postprocessed`` in the trajectory.
    round:
        0 for the first batch of runs, +1 for each expansion by post-processing.
    length:
        ``len(traj)`` when the round started.
    job, postprocessing:
        :class:`~distenv.environment.postprocessing.Call` objects (function, args, kwargs).
    mapped:
        ``run_map``: ``run_args``/``run_kwargs`` hold the arguments of each run of
        ``indices``; otherwise every run gets ``job.args``/``job.kwargs``.
    indices:
        Runs the round makes (those not completed when it started).
    """

    trajectory_name: str
    filename: str
    service: Any
    dynamic_imports: tuple
    wildcard_functions: Any
    session: str
    round: int
    length: int
    job: Any
    postprocessing: Any
    mapped: bool
    indices: np.ndarray
    run_args: list | None = None
    run_kwargs: list | None = None
    format: int = SNAPSHOT_FORMAT
    created: float = field(default_factory=time.time)

    def arguments_of(self, indices: list[int]) -> tuple[list[tuple], list[dict]]:
        """Per-run positional and keyword arguments of ``indices`` (runs of this round).

        Raises
        ------
        ConfigurationError
            An index this round does not make (for ``run_map`` sweeps).
        """
        if not self.mapped:
            return [self.job.args] * len(indices), [self.job.kwargs] * len(indices)
        position = {int(index): number for number, index in enumerate(self.indices.tolist())}
        missing = [index for index in indices if index not in position]
        if missing:
            raise ConfigurationError(
                "the resume snapshot of round %d of trajectory %r has no run_map arguments for "
                "run(s) %s; it covers runs %s" % (self.round, self.trajectory_name,
                                                  _short(missing), _short(self.indices.tolist())))
        return ([self.run_args[position[index]] for index in indices],
                [self.run_kwargs[position[index]] for index in indices])


# -- folders -----------------------------------------------------------------------------------
def snapshot_dir(resume_folder: str | os.PathLike | None, trajectory_name: str) -> Path:
    """``<resume_folder>/<trajectory_name>`` (``resume_folder`` defaults to ``./resume``)."""
    return Path(resume_folder if resume_folder is not None else DEFAULT_RESUME_FOLDER) / \
        trajectory_name


def clear(directory: Path) -> None:
    """Remove the snapshots and value logs of an earlier sweep (a new sweep starts)."""
    ValueLog(directory).close()
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.name.startswith((ROUND_PREFIX, VALUES_PREFIX, ".")) and path.is_file():
            path.unlink(missing_ok=True)


def remove(directory: Path) -> None:
    """Delete a snapshot folder (``delete_resume``) and its parent if that is left empty."""
    ValueLog(directory).close()
    shutil.rmtree(directory, ignore_errors=True)
    try:
        directory.parent.rmdir()
    except OSError:
        pass


def available(resume_folder: Path) -> list[str]:
    """Names of the trajectories with snapshots in ``resume_folder``."""
    if not resume_folder.is_dir():
        return []
    return sorted(path.name for path in resume_folder.iterdir()
                  if path.is_dir() and any(path.glob(ROUND_PREFIX + "*" + ROUND_SUFFIX)))


# -- round snapshots ------------------------------------------------------------------------------
def round_path(directory: Path, number: int) -> Path:
    return directory / ("%s%05d%s" % (ROUND_PREFIX, number, ROUND_SUFFIX))


def write_round(directory: Path, snapshot: RoundSnapshot, fsync: bool = True) -> Path:
    """Write ``snapshot`` atomically (temporary name, fsync, rename, fsync of the folder).

    Raises
    ------
    ConfigurationError
        dill cannot serialise the job, its arguments or the post-processing function.
    """
    try:
        payload = dill.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL, recurse=True)
    except Exception as exc:  # noqa: BLE001 -- dill raises many kinds
        raise ConfigurationError(
            "resumable=True: dill cannot snapshot the job, its arguments or the post-processing "
            "function of trajectory %r (%s: %s); pass objects dill can serialise, or use "
            "resumable=False" % (snapshot.trajectory_name, type(exc).__name__, exc)) from exc
    directory.mkdir(parents=True, exist_ok=True)
    final = round_path(directory, snapshot.round)
    temporary = directory / (".%s.tmp-%d" % (final.name, os.getpid()))
    with open(temporary, "wb") as handle:
        handle.write(payload)
    commit_temporary(temporary, final, fsync)
    return final


def read_rounds(directory: Path) -> list[RoundSnapshot]:
    """Every round snapshot of ``directory``, by round.

    Raises
    ------
    CorruptFileError
        A snapshot that dill cannot read (named), e.g. written by another distenv version.
    """
    snapshots = []
    for path in sorted(directory.glob(ROUND_PREFIX + "*" + ROUND_SUFFIX)):
        try:
            snapshot = dill.loads(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 -- unpickling raises many kinds
            raise CorruptFileError("the resume snapshot %s cannot be read (%s: %s); if the code "
                                   "of the job changed or moved, restore it, or start the sweep "
                                   "again" % (path, type(exc).__name__, exc)) from exc
        if not isinstance(snapshot, RoundSnapshot) or snapshot.format != SNAPSHOT_FORMAT:
            raise CorruptFileError("%s is not a distenv resume snapshot of format %d"
                                   % (path, SNAPSHOT_FORMAT))
        snapshots.append(snapshot)
    return snapshots


# -- return values ------------------------------------------------------------------------------
#: Value-log descriptors of this process by folder. Forked children inherit them and append to
#: the same file (one ``write`` per record with ``O_APPEND``), so a pool or a process per run
#: does not leave a file per task; processes started fresh open their own file.
_OPEN_LOGS: dict[str, int] = {}


class ValueLog:
    """Appends ``(run_index, value)`` records to a log file in ``directory``.

    The file is opened with ``O_APPEND`` once per process (or inherited from the parent at
    fork); each record is one ``write``, in the kernel as soon as it returns -- a ``kill -9``
    of the writer cannot lose it. Records start with a marker and carry a CRC, so a record torn
    by a process killed while writing it is skipped and the records after it are still read.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self._warned = False

    def __getstate__(self) -> dict:
        return {"directory": self.directory}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["directory"])

    def open(self) -> int:
        """The descriptor this process appends to (opened now if needed)."""
        key = str(self.directory)
        fd = _OPEN_LOGS.get(key)
        if fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = "%s%019d-%s-%d%s" % (VALUES_PREFIX, time.time_ns(), _HOST, os.getpid(),
                                        VALUES_SUFFIX)
            fd = _OPEN_LOGS[key] = os.open(str(self.directory / name),
                                           os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        return fd

    def append(self, run_index: int, value: Any) -> None:
        record = _encode(run_index, value)
        if record is None:
            if not self._warned:
                self._warned = True
                logger.warning("resumable=True: the value run %d returned (%r) cannot be "
                               "pickled; a resumed sweep computes such values again",
                               run_index, type(value).__name__)
            return
        os.write(self.open(), record)

    def close(self) -> None:
        """Close this process's log of ``directory`` (the next record opens a new file)."""
        fd = _OPEN_LOGS.pop(str(self.directory), None)
        if fd is not None:
            os.close(fd)


def _encode(run_index: int, value: Any) -> bytes | None:
    try:
        payload, codec = pickle.dumps((int(run_index), value), protocol=pickle.HIGHEST_PROTOCOL), 0
    except Exception:  # noqa: BLE001
        try:
            payload, codec = dill.dumps((int(run_index), value), recurse=True), 1
        except Exception:  # noqa: BLE001
            return None
    return _MAGIC + _HEADER.pack(len(payload), zlib.crc32(payload), codec) + payload


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    data = path.read_bytes()
    position = data.find(_MAGIC)
    while position >= 0:
        start = position + len(_MAGIC) + _HEADER.size
        if start > len(data):
            return
        length, crc, codec = _HEADER.unpack_from(data, position + len(_MAGIC))
        payload = data[start:start + length]
        if len(payload) != length or zlib.crc32(payload) != crc or codec not in (0, 1):
            # torn by a writer killed while appending: skip to the next record
            position = data.find(_MAGIC, position + 1)
            continue
        try:
            yield (pickle.loads(payload) if codec == 0 else dill.loads(payload))
        except Exception as exc:  # noqa: BLE001
            logger.warning("a return value in %s cannot be unpickled (%s); that run's value is "
                           "computed again", path, exc)
        position = data.find(_MAGIC, start + length)


def read_values(directory: Path) -> dict[int, Any]:
    """``{run_index: value}`` from every value log of ``directory`` (the newest record wins)."""
    values: dict[int, Any] = {}
    for path in sorted(directory.glob(VALUES_PREFIX + "*" + VALUES_SUFFIX)):
        for run_index, value in _records(path):
            values[run_index] = value
    return values


class RecordingJob:
    """The user's job, recording its return value before the run is handed to storage.

    It runs wherever runs run (this process, pool workers, forked processes), so the record
    precedes the storage acknowledgement in every wrap mode.
    """

    def __init__(self, job: Callable[..., Any], directory: str | os.PathLike):
        self.job = job
        self.log = ValueLog(directory)
        self.__name__ = getattr(job, "__name__", type(job).__name__)
        self.__qualname__ = getattr(job, "__qualname__", self.__name__)
        self.__doc__ = getattr(job, "__doc__", None)

    def __call__(self, traj: Any, *args: Any, **kwargs: Any) -> Any:
        value = self.job(traj, *args, **kwargs)
        self.log.append(traj.v_idx, value)
        return value

    # Travels to pool workers with dill: a job restored from a snapshot of another script's
    # __main__ cannot be pickled by reference.
    def __getstate__(self) -> dict:
        return {"job": dill.dumps(self.job, recurse=True), "directory": self.log.directory}

    def __setstate__(self, state: dict) -> None:
        self.__init__(dill.loads(state["job"]), state["directory"])

    def __repr__(self) -> str:
        return "<RecordingJob %r>" % (self.job,)


def _short(indices: list[int], limit: int = 10) -> str:
    text = ", ".join(str(index) for index in indices[:limit])
    return text + (", ... (%d in all)" % len(indices) if len(indices) > limit else "")
