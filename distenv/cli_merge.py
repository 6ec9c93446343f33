"""``distenv merge FILE... [-o OUT]``: merge the trajectories of several files into a new file."""

from __future__ import annotations

import argparse
import sys

DEFAULT_OUTPUT = "merged.h5"


def register(subparsers: argparse._SubParsersAction, parents: list) -> None:
    """Add the ``merge`` subcommand."""
    parser = subparsers.add_parser(
        "merge", parents=parents, help="merge the trajectories of several files into one file",
        description="Merge the trajectory of every FILE into a new file (default ./%s). The "
                    "first FILE is the base: the merged trajectory has its name, and the runs of "
                    "the other files follow its runs, renumbered. Runs still in journal shards "
                    "are included. Inputs are never modified; the output appears atomically "
                    "when complete." % DEFAULT_OUTPUT,
        epilog="Example: distenv merge out/*.h5 -o sweep.h5 --remove-duplicates")
    parser.add_argument("files", nargs="+", metavar="FILE", help="input files")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, metavar="OUT",
                        help="file to write (default: %(default)s in the current folder)")
    parser.add_argument("--force", action="store_true",
                        help="replace OUT if it exists (otherwise that is an error)")
    parser.add_argument("--trajectory", metavar="NAME",
                        help="trajectory to take from every file (needed if a file holds several)")
    parser.add_argument("--remove-duplicates", action="store_true",
                        help="skip runs whose explored point is already in the merged trajectory")
    parser.add_argument("--trial-parameter", metavar="NAME",
                        help="an int parameter numbering trials 0..T; each file's trials are "
                             "renumbered after those before it")
    parser.add_argument("--ignore-data", nargs="+", action="extend", default=[], metavar="NAME",
                        help="items not to merge, e.g. results.runs.$.big (put it after FILE...)")
    parser.add_argument("--no-merge-info", dest="keep_info", action="store_false",
                        help="do not record the merge under config.merge")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Merge ``args.files`` into ``args.output``; prints a one-line summary."""
    from distenv.errors import TrajectoryNotFoundError
    from distenv.storage.merge import merge_files
    try:
        report = merge_files(args.files, args.output, trajectory=args.trajectory,
                             overwrite=args.force, trial_parameter=args.trial_parameter,
                             remove_duplicates=args.remove_duplicates,
                             ignore_data=args.ignore_data, keep_info=args.keep_info)
    except TrajectoryNotFoundError as exc:  # say it in command-line words
        raise TrajectoryNotFoundError(str(exc).replace("pass name= or index=",
                                                       "pass --trajectory NAME")) from exc
    if not args.quiet:
        skipped = sum(item.runs - item.merged for item in report.inputs)
        print("merged %d file%s into %s: trajectory %r, %d runs (%d from the first file, %d "
              "added%s) in %.2f s" % (
                  len(args.files), "" if len(args.files) == 1 else "s", report.filename,
                  report.trajectory, report.length, report.length_before, report.merged_runs,
                  ", %d duplicates skipped" % skipped if skipped else "", report.seconds),
              file=sys.stdout)
    return 0
