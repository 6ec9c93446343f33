"""Names and numbers shared by every layer (pypet's ``pypetconstants`` under one roof)."""

from __future__ import annotations

#: Version of the on-disk layout; written into every trajectory group.
FORMAT_VERSION = 1

#: The four top-level branches of a trajectory.
BRANCHES = ("config", "parameters", "derived_parameters", "results")

#: Short names that natural naming maps to a branch.
BRANCH_SHORTCUTS = {
    "par": "parameters",
    "param": "parameters",
    "dpar": "derived_parameters",
    "res": "results",
    "conf": "config",
}

#: Default wildcards: ``$``/``crun`` is the current run, ``$set`` the bucket of 1000 runs.
RUN_WILDCARD = ("$", "crun")
SET_WILDCARD = ("$set", "crunset")
RUNS_PER_SET = 1000
RUN_NAME_ALL = "run_ALL"      # the dummy run name for run index -1
SET_NAME_ALL = "run_set_ALL"


def default_run_name(index: int) -> str:
    """``run_00000042`` for 42, ``run_ALL`` for -1."""
    return RUN_NAME_ALL if index < 0 else "run_%08d" % index


def default_set_name(index: int) -> str:
    """``run_set_00000`` for runs 0..999, ``run_set_ALL`` for -1."""
    return SET_NAME_ALL if index < 0 else "run_set_%05d" % (index // RUNS_PER_SET)


# Storage modes (wrap_mode) -- the registry lives in distenv.modes.
WRAP_MODE_NONE = "NONE"
WRAP_MODE_LOCK = "LOCK"
WRAP_MODE_QUEUE = "QUEUE"
WRAP_MODE_PIPE = "PIPE"
WRAP_MODE_LOCAL = "LOCAL"
WRAP_MODE_NETLOCK = "NETLOCK"
WRAP_MODE_NETQUEUE = "NETQUEUE"
MULTIPROC_MODE_QUEUE = WRAP_MODE_QUEUE  # pypet names
MULTIPROC_MODE_LOCK = WRAP_MODE_LOCK
MULTIPROC_MODE_NONE = WRAP_MODE_NONE

# Log-file wildcards.
LOG_ENV = "$env"
LOG_TRAJ = "$traj"
LOG_RUN = "$run"
LOG_SET = "$set"
LOG_PROC = "$proc"
LOG_HOST = "$host"

#: Overview tables are for eye-balling only and never grow past this.
OVERVIEW_MAX_ROWS = 1000

# Run status in the run table.
RUN_PENDING = 0
RUN_COMPLETED = 1
RUN_FAILED = 2
RUN_STATUS_NAMES = {RUN_PENDING: "pending", RUN_COMPLETED: "completed", RUN_FAILED: "failed"}
