"""The typed, frozen objects the Environment's keywords are translated into (DESIGN §3).

:func:`distenv.environment.options.translate` builds them once; nothing downstream reads the
pypet keywords again. Each spec gathers one concern, so an executor receives an
:class:`ExecutorSpec`, a storage mode a :class:`StorageModeSpec`, the logging set-up a
:class:`LoggingSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrajectorySpec:
    """Which trajectory to use, or how to make a new one."""

    name: str | None
    existing: Any = None
    add_time: bool = False
    comment: str = ""
    dynamic_imports: tuple = ()
    wildcard_functions: Any = None
    #: ``(('v_auto_load', True), ...)``: trajectory properties to set.
    properties: tuple = ()


@dataclass(frozen=True)
class StorageSpec:
    """The storage service and whether anything is stored at all."""

    service: Any
    #: ``'hdf5'`` (or the service's own kind), or ``'none'`` when nothing is written.
    kind: str = "hdf5"
    #: Why nothing is stored, e.g. ``"lazy_debug=True and a debugger is attached"``.
    reason: str = ""
    #: The storage keywords that built the service (for provenance).
    keywords: tuple = ()


@dataclass(frozen=True)
class RunSettings:
    """How the runs are driven, whatever executes them."""

    automatic_storing: bool = True
    clean_up_runs: bool = True
    do_single_runs: bool = True


@dataclass(frozen=True)
class ProgressSpec:
    """``report_progress``: ``None`` off, else a step in percent, a logger (or ``'print'``)."""

    percent_step: float = 5
    logger_name: str = "distenv"
    level: int = 20

    @property
    def prints(self) -> bool:
        return self.logger_name == "print"


@dataclass(frozen=True)
class ExecutorSpec:
    """Where runs execute: ``backend`` is ``'serial'``, ``'pool'``, ``'process'``, ``'scoop'``
    or the name/object given as ``executor=``."""

    backend: Any = "serial"
    ncores: int = 1
    freeze_input: bool = False
    timeout: float | None = None
    cpu_cap: float = 100.0
    memory_cap: float = 100.0
    memory_per_process: float | None = None
    swap_cap: float = 100.0
    niceness: int | None = None
    graceful_exit: bool = False
    immediate_postproc: bool = False


@dataclass(frozen=True)
class StorageModeSpec:
    """How several processes share one store (``wrap_mode`` and its settings)."""

    wrap_mode: str = "LOCK"
    queue_maxsize: int = -1
    port: Any = None
    gc_interval: int | None = None


@dataclass(frozen=True)
class ResumeSpec:
    """Resuming crashed sweeps (``resumable``, ``resume_folder``, ``delete_resume``)."""

    resumable: bool = False
    resume_folder: str | None = None
    delete_resume: bool = True


@dataclass(frozen=True)
class LoggingSpec:
    """Logging set-up and the ``config`` .ini file."""

    log_config: Any = "DEFAULT"
    log_folder: str | None = None
    logger_names: tuple = ()
    log_levels: tuple = ()
    log_stdout: Any = False
    log_multiproc: bool = True
    config: str | None = None
    #: ``[config]``/``[parameters]`` items of the ``config`` file (``ConfigItem`` objects).
    config_items: tuple = ()


@dataclass(frozen=True)
class ProvenanceSpec:
    """Git and Sumatra integration."""

    git_repository: str | None = None
    git_message: str = ""
    git_fail: bool = False
    sumatra_project: str | None = None
    sumatra_reason: str = ""
    sumatra_label: str | None = None


@dataclass(frozen=True)
class EnvironmentOptions:
    """Everything ``Environment(...)`` was asked for, validated and translated."""

    trajectory: TrajectorySpec
    storage: StorageSpec
    run: RunSettings
    progress: ProgressSpec | None
    executor: ExecutorSpec
    storage_mode: StorageModeSpec
    resume: ResumeSpec
    logging: LoggingSpec
    provenance: ProvenanceSpec
    #: ``{keyword: normalised value}`` of every Environment keyword (defaults included).
    values: dict = field(default_factory=dict, compare=False, repr=False)
