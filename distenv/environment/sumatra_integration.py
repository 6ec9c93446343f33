"""``sumatra_project``, ``sumatra_reason``, ``sumatra_label``: a Sumatra lab-book record.

The project is loaded when the Environment is created (a folder that is not a Sumatra project
fails then). When ``run``/``run_map``/``pipeline``/``resume`` starts its runs, a record is
created -- Sumatra checks that the code is committed and the main script is under version
control then -- and when they succeed it is completed (duration, new files in the project's
data store) and saved; a failed sweep leaves no record. The reason is ``sumatra_reason``
followed by the trajectory's name, comment and explored parameter names; the record's
parameters are all parameters of the trajectory, explored ones with their whole range. The
trajectory gets ``config.sumatra.record_<label>.label`` and ``.reason`` (stored when
``automatic_storing`` is on).

Needs the ``sumatra`` package: ``pip install distenv[sumatra]``.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from typing import Any, Callable, TypeVar

import numpy as np

from distenv.environment.provenance import main_script
from distenv.environment.specs import ProvenanceSpec
from distenv.errors import ConfigurationError, MissingDependencyError

T = TypeVar("T")


def _import_sumatra() -> Any:
    try:
        import sumatra.programs
        import sumatra.projects
    except ImportError as exc:
        raise MissingDependencyError("sumatra_project needs the sumatra package: pip install "
                                     "distenv[sumatra] (%s)" % exc) from exc
    return sumatra


def plain(value: Any) -> Any:
    """A value Sumatra can store: numpy arrays and scalars become lists and Python numbers."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [plain(item) for item in value]
    return value


def record_parameters(traj: Any) -> dict:
    """All parameters by full name; explored ones with their whole range."""
    parameters = {}
    for name, parameter in traj.f_get_parameters().items():
        if parameter.f_has_range():
            parameters[name] = plain(list(parameter.f_get_range()))
        else:
            parameters[name] = plain(parameter.f_get())
    return parameters


def record_reason(reason: str, traj: Any) -> str:
    """``'<reason> -- Trajectory name (`comment`) -- Explored parameters: [...]'``."""
    comment = " (`%s`)" % traj.v_comment if traj.v_comment else ""
    explored = sorted(traj.f_get_explored_parameters())
    return "%sTrajectory %s%s -- Explored parameters: %s" % (
        reason + " -- " if reason else "", traj.v_name, comment, explored)


class SumatraRecorder:
    """Records successful sweeps of one Environment in a Sumatra project.

    Raises
    ------
    MissingDependencyError
        The ``sumatra`` package is not installed.
    ConfigurationError
        ``sumatra_project`` is not (inside) a Sumatra project.
    """

    def __init__(self, spec: ProvenanceSpec, automatic_storing: bool):
        sumatra = _import_sumatra()
        self.spec = spec
        self.automatic_storing = automatic_storing
        #: True while the runs of a record are made (rounds inside are not recorded again).
        self.recording = False
        self._programs = sumatra.programs
        try:
            self.project = sumatra.projects.load_project(spec.sumatra_project)
        except (OSError, ValueError) as exc:
            raise ConfigurationError("sumatra_project=%r is not a Sumatra project (%s); create "
                                     "one with 'smt init <name>' in that folder"
                                     % (spec.sumatra_project, exc)) from None
        self.root = os.path.abspath(getattr(self.project, "path", spec.sumatra_project))

    @classmethod
    def for_spec(cls, spec: ProvenanceSpec, automatic_storing: bool) -> "SumatraRecorder | None":
        return cls(spec, automatic_storing) if spec.sumatra_project is not None else None

    def record(self, traj: Any, make_runs: Callable[[], T]) -> T:
        """Call ``make_runs()`` inside a Sumatra record that is saved if it succeeds."""
        record, reason = self._new_record(traj)
        started = time.time()
        self.recording = True
        try:
            result = make_runs()
        except BaseException:
            self._discard(record)
            raise
        finally:
            self.recording = False
        record.duration = time.time() - started
        record.output_data = record.datastore.find_new_data(record.timestamp)
        self.project.add_record(record)
        self.project.save()
        self._add_config(traj, record.label, reason)
        return result

    def _new_record(self, traj: Any) -> tuple[Any, str]:
        reason = record_reason(self.spec.sumatra_reason, traj)
        script = main_script()
        main_file = os.path.relpath(script, self.root) if script else None
        try:
            record = self.project.new_record(
                parameters=record_parameters(traj), main_file=main_file,
                executable=self._programs.PythonExecutable(path=sys.executable),
                label=self.spec.sumatra_label, reason=reason)
        except Exception as exc:
            raise ConfigurationError(
                "sumatra_project=%r: Sumatra refused to create the record (%s: %s). The main "
                "script (%s) must be committed in the project's version-controlled code "
                "folder, without uncommitted changes; git_repository= can commit them first"
                % (self.spec.sumatra_project, type(exc).__name__, exc, main_file or "none: "
                   "interactive session")) from exc
        return record, reason

    def _discard(self, record: Any) -> None:
        try:
            self.project.delete_record(record.label)
        except Exception:  # noqa: BLE001 -- the sweep's own error matters more
            pass

    def _add_config(self, traj: Any, label: str, reason: str) -> None:
        base = "sumatra.record_%s" % re.sub(r"\W", "_", str(label))
        if traj.f_contains("config." + base, shortcuts=False):
            return
        items = [traj.f_add_config(base + ".label", str(label),
                                   comment="Label of the Sumatra record"),
                 traj.f_add_config(base + ".reason", reason,
                                   comment="Reason of the Sumatra record")]
        if self.automatic_storing:
            traj.f_store_items(items)


def recorded_in_sumatra(method: Callable[..., T]) -> Callable[..., T]:
    """Decorator of the Environment's run loop: a Sumatra record around it when the
    Environment has a recorder (``self._sumatra``), once per sweep (not per round)."""
    @functools.wraps(method)
    def recorded(self: Any, *args: Any, **kwargs: Any) -> T:
        recorder = getattr(self, "_sumatra", None)
        if recorder is None or recorder.recording:
            return method(self, *args, **kwargs)
        return recorder.record(self._traj, lambda: method(self, *args, **kwargs))
    return recorded
