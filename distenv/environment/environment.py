"""The Environment: sets up a trajectory, records provenance and makes the runs.

Every keyword is documented in ``docs/environment.md`` (generated from the same table as
``Environment.__signature__``, :mod:`distenv.environment.keywords`).
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Iterable

from distenv.environment import keywords as keyword_table
from distenv.environment.aliases import install_method_aliases
from distenv.environment.config_file import add_config_items
from distenv.environment.git_integration import commit_code
from distenv.environment.logging_setup import LoggingSetup
from distenv.environment.logging_worker import WorkerLoggingSpec
from distenv.environment.options import translate
from distenv.environment.postprocessing import Call, make_call, parse_pipeline_return
from distenv.environment.provenance import (EnvironmentIdentity, add_environment_config,
                                            make_identity, tag_trajectory)
from distenv.environment.resume import ResumeKeeper, ResumePlan, plan_resume, resolve_folder
from distenv.environment.rounds import Rounds
from distenv.environment.runner import RunLoop
from distenv.environment.snapshot import snapshot_dir
from distenv.environment.specs import EnvironmentOptions
from distenv.environment.sumatra_integration import SumatraRecorder, recorded_in_sumatra
from distenv.errors import ConfigurationError, DistenvError, TrajectoryExistsError
from distenv.trajectory import Trajectory

logger = logging.getLogger("distenv.environment")


@install_method_aliases
class Environment:
    """Sets up a trajectory, records how it was run, and runs a job over its parameter space.

    Parameters
    ----------
    trajectory:
        Name of a new trajectory, or a :class:`~distenv.Trajectory` to use.
    **keywords:
        Every keyword of pypet's Environment in both name generations (``continuable`` is
        ``resumable``, ...), the storage keywords (``filename``, ``complevel``, ...) handed to
        the storage service, and trajectory properties (``auto_load`` or ``v_auto_load``, ...).
        See ``docs/environment.md`` for each one with its default.

    Raises
    ------
    UnknownKeywordError
        A keyword nobody understands, with close matches.
    ConfigurationError
        A value of the wrong type or range, or options that do not go together; nothing is
        written then.
    TrajectoryExistsError
        ``automatic_storing`` and the file already holds a trajectory of that name (and
        ``overwrite_file`` is not set).
    NotImplementedError
        A valid value whose machinery is not built yet (the cluster backends); the message
        names the keyword.
    GitDiffError
        ``git_fail=True`` and tracked files of ``git_repository`` changed.
    MissingDependencyError
        ``git_repository`` without GitPython, ``sumatra_project`` without Sumatra.

    Example
    -------
    >>> with Environment(trajectory='sweep', filename='hdf5/sweep.hdf5') as env:
    ...     traj = env.trajectory
    ...     traj.f_add_parameter('x', 1.0)
    ...     traj.f_explore({'x': [1.0, 2.0, 3.0]})
    ...     env.run(lambda traj: traj.f_add_result('y', traj.x ** 2))
    """

    def __init__(self, trajectory: str | Trajectory | None = None, **keywords: Any):
        given = dict(keywords) if trajectory is None else dict(keywords, trajectory=trajectory)
        self._options: EnvironmentOptions = translate(given)
        options = self._options
        self._traj = _make_trajectory(options)
        add_config_items(self._traj, options.logging.config_items, options.logging.config)
        if options.run.automatic_storing:
            _check_name_is_free(self._traj)
        # issue 6: Sumatra and git are checked before anything is written; then logging starts
        self._sumatra = SumatraRecorder.for_spec(options.provenance, options.run.automatic_storing)
        timestamp = time.time()
        commit = commit_code(options.provenance, self._traj.v_name, self._traj.v_comment,
                             timestamp)
        self._identity: EnvironmentIdentity = make_identity(
            self._traj.v_name, timestamp, commit.hexsha if commit is not None else None)
        self._logging = LoggingSetup.start(options.logging, self._traj, self._identity.name)
        if commit is not None:
            commit.add_to(self._traj)
        tag_trajectory(self._traj, self._identity)
        groups = {keyword.name: keyword.group for keyword in keyword_table.KEYWORDS}
        add_environment_config(self._traj, self._identity, options.values, groups,
                               options.storage.keywords, options.run.do_single_runs)
        self._postprocessing: Call | None = None
        self._loop = RunLoop(self._traj, options.run, self._identity.short_hash,
                             options.progress, options.executor, options.storage_mode)
        if options.storage.reason:
            logger.warning("nothing of trajectory %r will be stored: %s", self._traj.v_name,
                           options.storage.reason)
        elif not options.run.automatic_storing and options.run.clean_up_runs:
            logger.warning("automatic_storing=False with clean_up_runs=True: the data each run "
                           "adds is dropped after the run unless the job stores it itself "
                           "(traj.f_store_item); pass clean_up_runs=False to keep it in memory")

    # -- what users read ---------------------------------------------------------------------
    @property
    def trajectory(self) -> Trajectory:
        """The trajectory (aliases: ``traj``, ``v_trajectory``, ``v_traj``)."""
        return self._traj

    @property
    def options(self) -> EnvironmentOptions:
        """The keywords, validated and translated into typed specs."""
        return self._options

    @property
    def name(self) -> str:
        """``environment_<sha7>_<YYYY_MM_DD_HHhMMmSSs>`` (alias ``v_name``)."""
        return self._identity.name

    @property
    def hexsha(self) -> str:
        """The environment's SHA-1 (alias ``v_hexsha``)."""
        return self._identity.hexsha

    @property
    def time(self) -> str:
        """Creation time ``YYYY_MM_DD_HHhMMmSSs`` (alias ``v_time``)."""
        return self._identity.time

    @property
    def timestamp(self) -> float:
        """Creation time in seconds since the epoch (alias ``v_timestamp``)."""
        return self._identity.timestamp

    @property
    def current_idx(self) -> int:
        """Index of the run being made, -1 outside runs (alias ``v_current_idx``)."""
        return self._traj.v_idx

    def __repr__(self) -> str:
        return "<Environment %s: trajectory %r, %d runs>" % (self.name, self._traj.v_name,
                                                             len(self._traj))

    # -- context manager and logging -------------------------------------------------------------
    def __enter__(self) -> "Environment":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.disable_logging()

    def disable_logging(self) -> None:
        """Undo the logging set-up of this Environment (alias ``f_disable_logging``).

        Removes the handlers it added (closing its log files), restores logger levels and puts
        ``sys.stdout``/``sys.stderr`` back (``log_stdout``). Safe to call more than once; the
        context manager calls it on exit. See ``docs/logging.md``.
        """
        if self._logging is not None:
            self._logging.stop()

    @property
    def worker_logging(self) -> WorkerLoggingSpec | None:
        """The picklable logging spec for worker processes, ``None`` without logging set-up.

        An executor calls ``configure_worker_logging(env.worker_logging)``
        (:mod:`distenv.environment.logging_worker`) once in each worker process.
        """
        setup = self._logging
        return setup.worker_spec if setup is not None and setup.active else None

    # -- running ------------------------------------------------------------------------------
    def run(self, job: Any, *args: Any, **kwargs: Any) -> list[tuple[int, Any]]:
        """Call ``job(traj, *args, **kwargs)`` once per run (alias ``f_run``).

        Runs already completed are skipped, so calling ``run`` again after a failure (or after
        ``traj.f_expand``) makes only the missing runs.

        Returns
        -------
        list of (run_index, return value)
            In run-index order.

        Raises
        ------
        RunFailedError
            A job raised: that run is marked failed (with its traceback) in the run table and
            the file, everything completed before it is stored, and the job's exception is the
            ``__cause__``. ``run_index`` and ``remote_traceback`` say where and why.
        """
        return self._run_rounds(make_call("the job", job, args, kwargs), mapped=False)

    def run_map(self, job: Any, *iterables: Iterable, **iterable_kwargs: Iterable
                ) -> list[tuple[int, Any]]:
        """Like :meth:`run`, but argument ``i`` of each iterable goes to the ``i``-th run made.

        ``env.run_map(job, range(5), 'abcde', c=[5, 4, 3, 2, 1])`` calls
        ``job(traj, 0, 'a', c=5)`` for the first run, ``job(traj, 1, 'b', c=4)`` next, ...

        Raises
        ------
        ConfigurationError
            An argument that is not iterable, or runs out before every run has a value
            (checked before the runs start).
        """
        return self._run_rounds(make_call("the job", job, iterables, iterable_kwargs),
                                mapped=True)

    def add_postprocessing(self, postproc: Any, *args: Any, **kwargs: Any) -> None:
        """Call ``postproc(traj, results, *args, **kwargs)`` after the runs (aliases
        ``f_add_postprocessing``, ``add_postproc``, ``f_add_postproc``).

        It may expand the trajectory (``traj.f_expand`` or by returning a dict) to trigger more
        runs; see :mod:`distenv.environment.postprocessing` for every return form.
        """
        self._postprocessing = make_call("the post-processing function", postproc, args, kwargs)

    def pipeline(self, pipeline: Any) -> list[tuple[int, Any]]:
        """Let ``pipeline(traj)`` set up the experiment, then run what it returns (alias
        ``f_pipeline``): ``(job, args, kwargs)`` or ``((job, args, kwargs), (postproc, args,
        kwargs))``.

        Returns
        -------
        list of (run_index, return value)
        """
        if not callable(pipeline):
            raise ConfigurationError("the pipeline must be callable, not %r" % (pipeline,))
        job, post = parse_pipeline_return(pipeline(self._traj))
        if post is not None:
            self._postprocessing = post
        return self._run_rounds(job, mapped=False)

    def resume(self, trajectory_name: str | None = None, resume_folder: str | None = None,
               continue_folder: str | None = None) -> list[tuple[int, Any]]:
        """Finish a sweep that crashed or was killed (alias ``f_continue``).

        The sweep must have been made with ``resumable=True``; its snapshots are in
        ``<resume_folder>/<trajectory_name>/``. This Environment's execution settings (``ncores``,
        ``multiproc``, ``wrap_mode``, progress, ...) apply; the storage settings, the job, its
        arguments and the post-processing are the snapshot's. Runs the storage acknowledged are
        kept, every other run is made again, then post-processing continues as it would have.
        Afterwards ``env.trajectory`` is the resumed trajectory. See ``docs/resume.md``.

        Parameters
        ----------
        trajectory_name:
            Name of the crashed trajectory; may be left out if the folder holds only one.
        resume_folder:
            The folder given as ``resume_folder`` to the crashed sweep (default: this
            Environment's ``resume_folder``, else ``./resume``). ``continue_folder`` is pypet's
            older name for it.

        Returns
        -------
        list of (run_index, return value)
            Of every run of the sweep, also those made before the crash, in run-index order.

        Raises
        ------
        ConfigurationError
            No snapshot folder, or no snapshot of ``trajectory_name`` (the message lists the
            trajectories that have one).
        RunFailedError
            A run failed, as in :meth:`run`; resume again after fixing the cause.
        """
        if continue_folder is not None:
            if resume_folder is not None:
                raise ConfigurationError("resume() got resume_folder=%r and its old name "
                                         "continue_folder=%r; pass only resume_folder"
                                         % (resume_folder, continue_folder))
            resume_folder = continue_folder
        if not self._options.run.do_single_runs:
            raise ConfigurationError("this Environment was made with do_single_runs=False, so it "
                                     "makes no runs; create it with do_single_runs=True")
        if not self._options.run.automatic_storing:
            raise ConfigurationError("resume() needs automatic_storing=True (a sweep resumes from "
                                     "what was stored)")
        folder = resume_folder if resume_folder is not None else \
            self._options.resume.resume_folder
        _, directory = resolve_folder(trajectory_name, folder)
        plan = plan_resume(directory, self._options.resume.delete_resume)
        if self._options.storage.keywords:
            logger.warning("resume(): the storage keywords %s of this Environment are not used; "
                           "trajectory %r stays in %s with the settings it was made with",
                           ", ".join(name for name, _ in self._options.storage.keywords),
                           plan.traj.v_name, plan.traj.v_storage_service.filename_for(
                               plan.traj.v_name))
        self._adopt(plan.traj)
        self._postprocessing = plan.postprocessing
        return self._run_rounds(plan.job, plan.mapped, resumed=plan)

    def _adopt(self, traj: Trajectory) -> None:
        """Make a loaded trajectory this Environment's (resume): its settings and provenance."""
        for prefixed, value in self._options.trajectory.properties:
            setattr(traj, prefixed, value)
        tag_trajectory(traj, self._identity)
        groups = {keyword.name: keyword.group for keyword in keyword_table.KEYWORDS}
        add_environment_config(traj, self._identity, self._options.values, groups,
                               self._options.storage.keywords, True)
        self._traj = traj
        self._loop.traj = traj

    def _resume_keeper(self, mapped: bool) -> ResumeKeeper | None:
        settings = self._options.resume
        if not settings.resumable:
            return None
        return ResumeKeeper(snapshot_dir(settings.resume_folder, self._traj.v_name), self.name,
                            settings.delete_resume, mapped)

    @recorded_in_sumatra
    def _run_rounds(self, job: Call, mapped: bool, resumed: ResumePlan | None = None
                    ) -> list[tuple[int, Any]]:
        """Make the runs, then post-process; repeat while post-processing adds runs
        (:class:`~distenv.environment.rounds.Rounds`).

        ``resumed`` continues a crashed sweep where :func:`~.resume.plan_resume` found it.
        """
        if not self._options.run.do_single_runs:
            raise ConfigurationError("this Environment was made with do_single_runs=False, so it "
                                     "makes no runs; create it with do_single_runs=True")
        traj, loop = self._traj, self._loop
        loop.worker_logging = self.worker_logging  # workers set up logging like this process
        if resumed is not None:
            rounds = Rounds(traj, loop, self._options, job, self._postprocessing, mapped,
                            resumed.keeper)
            if resumed.finished:
                resumed.keeper.finish()
                return list(resumed.results)
            batch, results = resumed.batch, list(resumed.results)
        else:
            indices = loop.pending()
            if not indices:
                logger.warning("every run of trajectory %r is completed already; nothing to run "
                               "(expand the trajectory to add runs)", traj.v_name)
                return []
            rounds = Rounds(traj, loop, self._options, job, self._postprocessing, mapped,
                            self._resume_keeper(mapped))
            batch, results = rounds.batch(indices), []
            if rounds.keeper is not None:
                rounds.keeper.start(traj, job, self._postprocessing, batch)
        try:
            return rounds.run(batch, results)
        finally:
            self._postprocessing = rounds.postprocessing


# -- helpers ---------------------------------------------------------------------------------------
def _make_trajectory(options: EnvironmentOptions) -> Trajectory:
    spec = options.trajectory
    service = options.storage.service
    try:
        if spec.existing is not None:
            traj = spec.existing
            traj.f_add_to_dynamic_imports(list(spec.dynamic_imports) or None)
            traj.v_storage_service = service
        else:
            traj = Trajectory(spec.name, add_time=spec.add_time, comment=spec.comment,
                              dynamic_imports=list(spec.dynamic_imports) or None,
                              wildcard_functions=spec.wildcard_functions,
                              storage_service=service)
    except (DistenvError, TypeError, ValueError) as exc:
        raise ConfigurationError("Environment(trajectory=%r, ...) cannot set up the trajectory: "
                                 "%s" % (spec.name, exc)) from exc
    for prefixed, value in spec.properties:
        setattr(traj, prefixed, value)
    return traj


def _check_name_is_free(traj: Trajectory) -> None:
    """Fail now, not at the first store, if the file already holds this trajectory name."""
    service = traj.v_storage_service
    if traj.v_stored or getattr(service, "overwrite_file", False) or \
            not hasattr(service, "trajectory_names"):
        return
    if traj.v_name in service.trajectory_names(traj.v_name):
        where = service.filename_for(traj.v_name) if hasattr(service, "filename_for") else "file"
        raise TrajectoryExistsError(
            "trajectory %r already exists in %s; choose another name, use add_time=True, or "
            "pass overwrite_file=True to replace the whole file" % (traj.v_name, where))


def _signature() -> inspect.Signature:
    """``Environment(trajectory='trajectory', *, add_time=False, ..., **storage_keywords)``."""
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for keyword in keyword_table.KEYWORDS:
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD if keyword.name == "trajectory" else \
            inspect.Parameter.KEYWORD_ONLY
        parameters.append(inspect.Parameter(keyword.name, kind, default=keyword.default))
    parameters.append(inspect.Parameter("storage_and_trajectory_keywords",
                                        inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


Environment.__init__.__signature__ = _signature()  # type: ignore[attr-defined]
