"""Rounds of runs and post-processing: one ``run``/``run_map``/``pipeline``/``resume`` call.

A sweep is a first round of runs; post-processing may add runs (expand the trajectory), which
makes the next round, and so on until it adds none. :class:`Rounds` drives that in one of two
ways:

* **one round after the other** (the default, and always without multiprocessing): the
  round's runs are made, then post-processing is called with the results of every run so far
  (in run-index order), then the next round starts with a fresh executor;
* **streamed** (``immediate_postproc=True`` with worker processes): the executor stays up for
  the whole sweep. Post-processing is called *early*, while the last runs of a round still
  execute -- as soon as every run of the round is handed to the executor, no more runs are
  outstanding than there are worker processes (so no new run can start), and at least one
  result arrived since the previous call -- and once more *finally* when no run is
  outstanding. Runs added by an early call go to the same executor at once. Each call gets
  every result received so far in this sweep, in the order the runs finished. See
  ``docs/postprocessing.md``.

Resume snapshots (:mod:`~distenv.environment.resume`) are written the same way in both: one per
round, and a marker in the trajectory when a post-processing call that ends a round is stored.
"""

from __future__ import annotations

import itertools
import logging
from operator import itemgetter
from typing import Any, Iterator

from distenv.environment.postprocessing import Call, interpret_postproc_return
from distenv.environment.resume import Batch, ResumeKeeper
from distenv.environment.runner import RunLoop
from distenv.environment.specs import EnvironmentOptions
from distenv.errors import ConfigurationError

logger = logging.getLogger("distenv.environment")


class Rounds:
    """Makes the rounds of one sweep and calls post-processing between (or during) them.

    Parameters
    ----------
    traj, loop, options:
        The Environment's trajectory, run loop and options.
    job:
        The job with its arguments (iterables for ``run_map``).
    postprocessing:
        The post-processing call, or ``None``. After :meth:`run` it holds the arguments the
        last call asked for (``postprocessing`` attribute).
    mapped:
        ``run_map``: every run draws its arguments from the iterables.
    keeper:
        Resume snapshots (``resumable=True``), or ``None``.
    """

    def __init__(self, traj: Any, loop: RunLoop, options: EnvironmentOptions, job: Call,
                 postprocessing: Call | None, mapped: bool, keeper: ResumeKeeper | None):
        self.traj = traj
        self.loop = loop
        self.options = options
        self.job = job
        self.postprocessing = postprocessing
        self.mapped = mapped
        self.keeper = keeper
        self._iterators = iterators_of(job) if mapped else None

    # -- batches -----------------------------------------------------------------------------
    def batch(self, indices: list[int]) -> Batch:
        """The runs ``indices`` with their arguments (drawn from the iterables for run_map)."""
        return Batch(indices, *arguments_for(len(indices), self.job, self._iterators))

    def _specs(self, batch: Batch) -> Iterator[Any]:
        function = self.job.function if self.keeper is None else \
            self.keeper.recording(self.job.function)
        return self.loop.specs(batch.indices, function, batch.args, batch.kwargs)

    # -- the sweep ---------------------------------------------------------------------------
    def run(self, batch: Batch | None, results: list[tuple[int, Any]]
            ) -> list[tuple[int, Any]]:
        """Make ``batch`` and every round post-processing adds; return all results.

        ``results`` are those of runs made before (a resumed sweep), handed to
        post-processing with the new ones.
        """
        executor = self.options.executor
        streamed = executor.immediate_postproc and self.postprocessing is not None and \
            executor.backend != "serial"
        if streamed:
            results = self._run_streamed(batch, results)
        else:
            results = self._run_round_by_round(batch, results)
        if self.keeper is not None:
            self.keeper.finish()
        return results

    def _run_round_by_round(self, batch: Batch | None, results: list[tuple[int, Any]]
                            ) -> list[tuple[int, Any]]:
        loop, finish_order = self.loop, self.options.executor.immediate_postproc
        while True:
            if batch is not None and batch.indices:
                results.extend(loop.execute(self._specs(batch), len(batch.indices)))
                if not finish_order:
                    results.sort(key=itemgetter(0))
            if self.postprocessing is None:
                return results
            batch = self.postprocess(results)
            if batch is None:
                return results

    def _run_streamed(self, batch: Batch | None, results: list[tuple[int, Any]]
                      ) -> list[tuple[int, Any]]:
        while batch is not None and batch.indices:
            results = self._stream(batch, results)
            batch = self.postprocess(results)  # the final call, as without immediate_postproc
        return results

    def _stream(self, batch: Batch, earlier: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        """Make ``batch`` on one executor, calling post-processing early and adding the runs
        it asks for to the same executor; return when no run is outstanding."""
        loop = self.loop
        sweep = loop.begin(len(batch.indices))
        try:
            with loop.stream() as stream:
                stream.add(self._specs(batch))
                early_call_due, seen = True, 0
                while True:
                    outcome = stream.next_outcome()
                    if outcome is None:
                        break
                    if not sweep.record(outcome):
                        break  # a run failed: stop (Sweep.finish raises)
                    if early_call_due and 0 < stream.outstanding <= stream.workers and \
                            len(sweep.results) > seen and not stream.interrupted:
                        early_call_due, seen = False, len(sweep.results)
                        with sweep.paused():
                            batch = self.postprocess(earlier + sweep.results,
                                                     exclude=stream.submitted)
                        if batch is not None:
                            stream.add(self._specs(batch))
                            sweep.extend(len(batch.indices))
                            early_call_due = True
            stream.raise_if_interrupted()
        finally:
            sweep.close()
        return earlier + sweep.finish(finish_order=True)

    # -- post-processing ---------------------------------------------------------------------
    def postprocess(self, results: list[tuple[int, Any]], exclude: set[int] | None = None
                    ) -> Batch | None:
        """Call post-processing with ``results``; apply what it returns; store.

        ``exclude`` (an early call: the runs the stream has already) is left out of the next
        round. Returns the next round (runs not completed and not excluded), or ``None`` when
        post-processing added no runs.
        """
        traj, post = self.traj, self.postprocessing
        length = len(traj)
        returned = interpret_postproc_return(
            post.function(traj, list(results), *post.args, **post.kwargs))
        if returned.expand:
            traj.f_expand(returned.expand)
        if returned.job_args is not None or returned.job_kwargs is not None:
            self.job = self.job.with_arguments(returned.job_args, returned.job_kwargs)
            self._iterators = iterators_of(self.job) if self.mapped else None
        self.postprocessing = post.with_arguments(returned.postproc_args,
                                                  returned.postproc_kwargs)
        batch = None
        if len(traj) != length:
            batch = self.batch([index for index in self.loop.pending()
                                if exclude is None or index not in exclude])
        # before the store: marker and expansion stored together. An early call that adds no
        # runs does not end the round (the final call follows), so it leaves no marker.
        if self.keeper is not None and (batch is not None or exclude is None):
            self.keeper.postprocessed(traj, self.job, self.postprocessing, batch)
        self._after_postprocessing()
        return batch

    def _after_postprocessing(self) -> None:
        """Store what post-processing added; with ``clean_up_runs`` drop run data from memory."""
        traj, run = self.traj, self.options.run
        if run.automatic_storing:
            traj.f_store()
        if run.clean_up_runs:
            for run_name in traj.f_get_run_names():
                traj._remove_run_nodes(run_name)


# -- run_map arguments ------------------------------------------------------------------------------
def iterators_of(job: Call) -> tuple[list[Iterator], dict[str, Iterator]]:
    """One iterator per argument of a ``run_map`` job.

    Raises
    ------
    ConfigurationError
        An argument that is not iterable (named).
    """
    def iterate(what: str, value: Any) -> Iterator:
        try:
            return iter(value)
        except TypeError:
            raise ConfigurationError("run_map needs an iterable for each argument; %s is %r"
                                     % (what, value)) from None
    return ([iterate("positional argument %d" % (number + 1), value)
             for number, value in enumerate(job.args)],
            {name: iterate("keyword argument %r" % name, value)
             for name, value in job.kwargs.items()})


def arguments_for(count: int, job: Call, iterators: Any) -> tuple[list[tuple], list[dict]]:
    """Arguments of the next ``count`` runs: the same each time, or drawn from iterators.

    Raises
    ------
    ConfigurationError
        An iterable that runs out before every run has a value (named, with the counts).
    """
    if iterators is None:
        return [job.args] * count, [job.kwargs] * count
    positional, named = iterators

    def take(what: str, iterator: Iterator) -> list:
        values = list(itertools.islice(iterator, count))
        if len(values) < count:
            raise ConfigurationError("run_map: %s has only %d more value(s) but %d run(s) need "
                                     "one each; no run of this batch was started"
                                     % (what, len(values), count))
        return values
    columns = [take("positional argument %d" % (number + 1), iterator)
               for number, iterator in enumerate(positional)]
    keyword_columns = {name: take("keyword argument %r" % name, iterator)
                       for name, iterator in named.items()}
    per_args = [tuple(column[i] for column in columns) for i in range(count)]
    per_kwargs = [{name: column[i] for name, column in keyword_columns.items()}
                  for i in range(count)]
    return per_args, per_kwargs
