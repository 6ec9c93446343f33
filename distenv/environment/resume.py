"""Resuming a crashed sweep: keeping the snapshots while it runs, and picking it up again.

While a ``resumable=True`` sweep runs, a :class:`ResumeKeeper` writes one
:class:`~distenv.environment.snapshot.RoundSnapshot` per round of runs and wraps the job in a
:class:`~distenv.environment.snapshot.RecordingJob` that logs return values. ``env.resume``
(:func:`plan_resume`) then continues from what the *storage* acknowledged -- the trajectory's
file plus its pending journal shards -- so runs that were not acknowledged are made again and
no run is stored twice, whichever executor and wrap mode ran the sweep.

Post-processing rounds are recorded in the trajectory itself, as config items
``config.environment.<session>.postprocessed.round_<r>`` stored together with what the
post-processing function added (one atomic store). So a resumed sweep knows exactly whether a
post-processing call finished and was stored -- it is never called twice for the same round --
and when an expansion was not stored yet, the post-processing function is called again.

The story for users is ``docs/resume.md``.
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from distenv.constants import default_run_name, default_set_name
from distenv.environment.postprocessing import Call, interpret_postproc_return
from distenv.environment.snapshot import (RecordingJob, RoundSnapshot, available, clear,
                                          read_rounds, read_values, remove, snapshot_dir,
                                          write_round)
from distenv.environment.worker import RunSpec, execute_run
from distenv.errors import ConfigurationError, DistenvError, StorageError
from distenv.trajectory import Trajectory

logger = logging.getLogger("distenv.environment.resume")

MARKER_GROUP = "postprocessed"


@dataclass
class Batch:
    """The runs of one round with the arguments of each run."""

    indices: list[int]
    args: list[tuple]
    kwargs: list[dict]


class ResumeKeeper:
    """Keeps the resume snapshots of one sweep (one ``run``/``run_map``/``pipeline`` call).

    Parameters
    ----------
    directory:
        ``<resume_folder>/<trajectory name>``.
    session:
        Name of the Environment that started the sweep.
    delete_when_done:
        ``delete_resume``: remove ``directory`` after the sweep succeeded.
    mapped:
        The sweep is a ``run_map`` (per-run arguments are snapshotted).
    """

    def __init__(self, directory: Path, session: str, delete_when_done: bool, mapped: bool,
                 round_number: int = 0):
        self.directory = directory
        self.session = session
        self.delete_when_done = delete_when_done
        self.mapped = mapped
        self.round = round_number
        self._recording: RecordingJob | None = None

    # -- while the sweep runs ------------------------------------------------------------------
    def start(self, traj: Any, job: Call, postprocessing: Call | None, batch: Batch) -> None:
        """A new sweep: forget an older one's snapshots, store the trajectory, snapshot round 0.

        The trajectory is stored first, so a snapshot never refers to a trajectory that is not
        in the file.
        """
        clear(self.directory)
        traj.f_store()
        self._write(traj, job, postprocessing, batch)

    def recording(self, job: Callable[..., Any]) -> RecordingJob:
        """``job`` wrapped to log its return values (one log per process)."""
        if self._recording is None or self._recording.job is not job:
            self._recording = RecordingJob(job, self.directory)
        self._recording.log.open()  # now, so that forked workers append to this file
        return self._recording

    def postprocessed(self, traj: Any, job: Call, postprocessing: Call | None,
                      batch: Batch | None) -> None:
        """Post-processing of this round returned: snapshot the next round (if it expanded
        the trajectory), then mark this round as post-processed in the trajectory. The caller
        stores the trajectory next -- marker, expansion and what post-processing added go to
        the file in one store."""
        finished = self.round
        if batch is not None:
            self.round += 1
            self._write(traj, job, postprocessing, batch)
        add_marker(traj, self.session, finished)

    def finish(self) -> None:
        """The sweep succeeded: close the value log, delete the snapshots if asked to."""
        if self._recording is not None:
            self._recording.log.close()
        if self.delete_when_done:
            remove(self.directory)

    def _write(self, traj: Any, job: Call, postprocessing: Call | None, batch: Batch) -> None:
        service = _non_overwriting(traj.v_storage_service)
        if self.mapped:  # the per-run arguments are in the snapshot; iterables may be generators
            job = Call(job.function, tuple(() for _ in job.args),
                       {name: () for name in job.kwargs})
        filename = service.filename_for(traj.v_name) if hasattr(service, "filename_for") else ""
        snapshot = RoundSnapshot(
            trajectory_name=traj.v_name, filename=str(filename), service=service,
            dynamic_imports=tuple(traj._dynamic_imports.values()),
            wildcard_functions=_user_wildcards(traj), session=self.session, round=self.round,
            length=len(traj), job=job, postprocessing=postprocessing, mapped=self.mapped,
            indices=np.asarray(batch.indices, dtype=np.int64),
            run_args=list(batch.args) if self.mapped else None,
            run_kwargs=list(batch.kwargs) if self.mapped else None)
        write_round(self.directory, snapshot, getattr(service, "fsync", True))


def add_marker(traj: Any, session: str, round_number: int) -> None:
    """Record in ``traj`` that post-processing of ``round_number`` finished."""
    traj.f_add_config("environment.%s.%s.round_%05d" % (session, MARKER_GROUP, round_number),
                      len(traj), comment="post-processing of this round finished; the value is "
                                         "the number of runs after it (used by resume)")


def markers(traj: Any, session: str) -> set[int]:
    """Rounds whose post-processing is stored in ``traj``."""
    prefix = "config.environment.%s.%s.round_" % (session, MARKER_GROUP)
    return {int(name[len(prefix):]) for name in traj.f_get_config() if name.startswith(prefix)}


# -- resuming ----------------------------------------------------------------------------------------
@dataclass
class ResumePlan:
    """Where a crashed sweep stands, and what ``resume`` does next.

    ``batch`` is ``None`` when the sweep is complete (``finished``); otherwise its runs are made
    and post-processing follows as in an uninterrupted sweep.
    """

    traj: Trajectory
    keeper: ResumeKeeper
    job: Call
    postprocessing: Call | None
    mapped: bool
    results: list[tuple[int, Any]]
    batch: Batch | None
    finished: bool = False
    recomputed: list[int] = field(default_factory=list)


def resolve_folder(trajectory_name: str | None, resume_folder: str | os.PathLike | None
                   ) -> tuple[str, Path]:
    """``(trajectory name, snapshot folder)``; errors list what exists.

    Raises
    ------
    ConfigurationError
        No such resume folder, no snapshots for that trajectory, or no name given while the
        folder holds several (or no) trajectories.
    """
    folder = Path(resume_folder) if resume_folder is not None else \
        snapshot_dir(None, "x").parent
    if not folder.is_dir():
        raise ConfigurationError(
            "resume folder %s does not exist (resolved to %s); pass the resume_folder the sweep "
            "was made with (resumable=True keeps its snapshots there)"
            % (folder, folder.resolve()))
    names = available(folder)
    if trajectory_name is None:
        if len(names) == 1:
            return names[0], folder / names[0]
        raise ConfigurationError(
            "resume() needs trajectory_name=: resume folder %s holds snapshots of %s"
            % (folder, ", ".join(repr(name) for name in names) if names else "no trajectory"))
    if trajectory_name not in names:
        raise ConfigurationError(
            "resume folder %s holds no snapshot of trajectory %r; it holds %s"
            % (folder, trajectory_name,
               ", ".join(repr(name) for name in names) if names else "none"))
    return trajectory_name, folder / trajectory_name


def plan_resume(directory: Path, delete_when_done: bool) -> ResumePlan:
    """Load the snapshots and the trajectory; decide what remains to be done.

    Raises
    ------
    CorruptFileError
        A snapshot that cannot be read.
    StorageError, TrajectoryNotFoundError
        The trajectory's file is missing or does not hold the trajectory.
    ConfigurationError
        The file and the snapshots do not fit together (e.g. the file was replaced).
    """
    rounds = read_rounds(directory)
    latest = rounds[-1]
    traj = load(latest)
    keeper = ResumeKeeper(directory, latest.session, delete_when_done, latest.mapped,
                          latest.round)
    done = markers(traj, latest.session)
    session_indices = np.concatenate([snapshot.indices for snapshot in rounds])
    values = read_values(directory)
    completed = traj._run_table.completed()
    finished_runs = [int(index) for index in session_indices.tolist()
                     if index < len(completed) and completed[index]]
    missing = [index for index in finished_runs if index not in values]
    plan = ResumePlan(traj, keeper, latest.job, latest.postprocessing, latest.mapped, [], None,
                      recomputed=missing)
    if missing:
        logger.warning("resume: the return values of %d completed run(s) of %r were not "
                       "recorded (power loss, or values that cannot be pickled); computing them "
                       "again without storing them", len(missing), traj.v_name)
        by_round = {int(index): snapshot for snapshot in rounds
                    for index in snapshot.indices.tolist()}
        for index in missing:
            values[index] = _value_again(traj, by_round[index], index)
    plan.results = sorted((index, values[index]) for index in finished_runs)

    previous = latest.round - 1
    if latest.postprocessing is not None and latest.round in done:
        plan.finished = True  # the last post-processing finished and returned no expansion
        return plan
    if latest.postprocessing is None and latest.round > 0:
        raise ConfigurationError("resume snapshot round %d of %r has no post-processing "
                                 "function; the snapshots in %s are inconsistent"
                                 % (latest.round, traj.v_name, directory))
    if previous >= 0 and previous not in done:
        earlier = {snapshot.round: snapshot for snapshot in rounds}
        if previous not in earlier:
            raise ConfigurationError("the resume snapshot of round %d of %r is missing from %s"
                                     % (previous, traj.v_name, directory))
        _postprocess_again(traj, earlier[previous], latest, plan.results, keeper)
    if len(traj) != latest.length:
        raise ConfigurationError(
            "trajectory %r in %s has %d runs, but its resume snapshot (round %d) was taken "
            "with %d; the file does not belong to these snapshots (was it replaced, or expanded "
            "by hand?)" % (traj.v_name, latest.filename, len(traj), latest.round,
                           latest.length))
    pending = [int(index) for index in (~traj._run_table.completed()).nonzero()[0]]
    if not pending and latest.postprocessing is None:
        plan.finished = True
        return plan
    args, kwargs = arguments_of(rounds, pending)
    plan.batch = Batch(pending, args, kwargs)
    return plan


def arguments_of(rounds: list[RoundSnapshot], indices: list[int]
                 ) -> tuple[list[tuple], list[dict]]:
    """Per-run arguments of ``indices``, each from the newest round that makes it.

    With ``immediate_postproc`` a round starts while runs of the previous one still execute,
    so a crash can leave runs of several rounds pending; each keeps its round's arguments.
    Runs of no round (made pending by hand) get the newest round's.
    """
    latest = rounds[-1]
    owner = {int(index): snapshot for snapshot in rounds for index in snapshot.indices.tolist()}
    args: list[tuple] = []
    kwargs: list[dict] = []
    for index in indices:
        one_args, one_kwargs = owner.get(index, latest).arguments_of([index])
        args.append(one_args[0])
        kwargs.append(one_kwargs[0])
    return args, kwargs


def load(snapshot: RoundSnapshot) -> Trajectory:
    """The trajectory as storage has it: main file plus pending journal shards."""
    traj = Trajectory(snapshot.trajectory_name, dynamic_imports=list(snapshot.dynamic_imports)
                      or None, wildcard_functions=snapshot.wildcard_functions or None,
                      storage_service=snapshot.service)
    try:
        traj.f_load(name=snapshot.trajectory_name, load_parameters=2,
                    load_derived_parameters=2, load_results=2)
    except DistenvError as exc:
        raise type(exc)("resume: cannot load trajectory %r from %s: %s"
                        % (snapshot.trajectory_name, snapshot.filename, exc)) from exc
    except OSError as exc:
        raise StorageError("resume: cannot load trajectory %r from %s: %s"
                           % (snapshot.trajectory_name, snapshot.filename, exc)) from exc
    return traj


def _postprocess_again(traj: Any, finished_round: RoundSnapshot, latest: RoundSnapshot,
                       results: list, keeper: ResumeKeeper) -> None:
    """Post-processing of ``finished_round`` ran, but its expansion never reached the file:
    call it again (its own expansion or returned dict expands the trajectory again), record
    it, store."""
    post = finished_round.postprocessing
    logger.info("resume: post-processing of round %d of %r did not finish storing; calling it "
                "again", finished_round.round, traj.v_name)
    returned = interpret_postproc_return(post.function(traj, list(results), *post.args,
                                                       **post.kwargs))
    if returned.expand:
        traj.f_expand(returned.expand)
    if len(traj) != latest.length:
        raise ConfigurationError(
            "resume: post-processing of round %d of %r expanded the trajectory to %d runs when "
            "called again, but to %d before the crash; it must give the same expansion for the "
            "same results to be resumable" % (finished_round.round, traj.v_name, len(traj),
                                              latest.length))
    add_marker(traj, keeper.session, finished_round.round)
    traj.f_store()


def _value_again(traj: Any, snapshot: RoundSnapshot, index: int) -> Any:
    """Make run ``index`` again in this process only for its return value (nothing stored)."""
    args, kwargs = snapshot.arguments_of([index])
    status = copy.copy(traj._run_table)
    outcome = execute_run(traj, RunSpec(index, snapshot.job.function, args[0], kwargs[0], True))
    traj._run_table = status
    if outcome.failed:
        logger.warning("resume: computing the return value of run %d again failed; it is None "
                       "in the results:\n%s", index, outcome.error)
        return None
    return outcome.value


def _non_overwriting(service: Any) -> Any:
    """A copy of the storage service that never replaces the whole file."""
    snapshot_service = copy.copy(service)
    if getattr(snapshot_service, "overwrite_file", False):
        snapshot_service.overwrite_file = False
    filename = getattr(snapshot_service, "filename", None)
    if isinstance(filename, str) and filename:
        trailing = filename.endswith(("/", os.sep))
        snapshot_service.filename = os.path.abspath(filename) + (os.sep if trailing else "")
    elif filename is None and hasattr(snapshot_service, "filename_for"):
        snapshot_service.filename = os.path.abspath("hdf5") + os.sep  # the default folder
    return snapshot_service


def _user_wildcards(traj: Any) -> dict | None:
    """The trajectory's own wildcard functions (not the default run/set names)."""
    wildcards = traj._wildcards
    groups: dict[str, list[str]] = {}
    for name, canonical in wildcards._canonical.items():
        groups.setdefault(canonical, []).append(name)
    functions = {tuple(names): wildcards._functions[canonical]
                 for canonical, names in groups.items()
                 if wildcards._functions[canonical] not in (default_run_name, default_set_name)}
    return functions or None
