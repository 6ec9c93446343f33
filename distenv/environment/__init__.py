"""Orchestration: the Environment, its options, the run loop, provenance and progress.

``from distenv.environment import Environment`` -- see ``docs/environment.md``.
"""

from distenv.environment.environment import Environment
from distenv.environment.keywords import KEYWORDS, Keyword
from distenv.environment.options import translate
from distenv.environment.services import LazyStorageService
from distenv.environment.specs import (EnvironmentOptions, ExecutorSpec, LoggingSpec,
                                       ProgressSpec, ProvenanceSpec, ResumeSpec, RunSettings,
                                       StorageModeSpec, StorageSpec, TrajectorySpec)
from distenv.environment.worker import RunOutcome, RunSpec, execute_run

__all__ = ["Environment", "EnvironmentOptions", "ExecutorSpec", "KEYWORDS", "Keyword",
           "LazyStorageService", "LoggingSpec", "ProgressSpec", "ProvenanceSpec", "ResumeSpec",
           "RunOutcome", "RunSettings", "RunSpec", "StorageModeSpec", "StorageSpec",
           "TrajectorySpec", "execute_run", "translate"]
