"""``distenv resume [RESUME_FOLDER]``: finish a crashed ``resumable=True`` sweep from the shell.

The same as ``Environment(...).resume(trajectory_name, resume_folder)`` (``docs/resume.md``):
the job, its arguments and post-processing come from the dill snapshots, the runs the storage
acknowledged are kept, the rest are made with the execution settings given here. The working
directory is put on ``sys.path`` first, so jobs snapshotted by reference to a module of the
experiment (``mysim.jobs.simulate``) import as they did in the crashed script.
"""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers: argparse._SubParsersAction, parents: list) -> None:
    """Add the ``resume`` subcommand."""
    parser = subparsers.add_parser(
        "resume", parents=parents, help="finish a crashed resumable sweep",
        description="Finish a sweep made with resumable=True that crashed or was killed: runs "
                    "the storage acknowledged are kept, the others are made again, "
                    "post-processing continues.")
    parser.add_argument("resume_folder", metavar="RESUME_FOLDER", nargs="?", default="resume",
                        help="the sweep's resume_folder (default: ./resume)")
    parser.add_argument("--trajectory", "-t", metavar="NAME",
                        help="trajectory to resume (needed if the folder holds several)")
    parser.add_argument("--ncores", type=int, default=1, metavar="N",
                        help="worker processes (default 1: serial; 0: one per CPU)")
    parser.add_argument("--use-pool", action="store_true",
                        help="a pool of N processes instead of a process per run")
    parser.add_argument("--wrap-mode", default="LOCK", metavar="MODE",
                        help="how workers share the file: LOCK, QUEUE, PIPE, LOCAL, NONE")
    parser.add_argument("--keep", action="store_true",
                        help="keep the snapshots after success (delete_resume=False)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from distenv import Environment
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    execution = {}
    if args.ncores != 1:
        execution = {"multiproc": True, "ncores": args.ncores, "use_pool": args.use_pool,
                     "wrap_mode": args.wrap_mode}
    with Environment(report_progress=not args.no_progress, delete_resume=not args.keep,
                     log_config=None, **execution) as env:
        results = env.resume(trajectory_name=args.trajectory, resume_folder=args.resume_folder)
        traj = env.trajectory
        done = sum(1 for index in range(len(traj)) if traj.f_is_completed(index))
        print("resumed trajectory %r in %s: %d of %d runs completed, %d results"
              % (traj.v_name, traj.v_storage_service.filename_for(traj.v_name), done,
                 len(traj), len(results)))
    return 0
