"""The ``distenv`` command line: a thin dispatcher over one module per subcommand.

Each subcommand lives in its own module with a ``register(subparsers, parents)`` function that
adds its parser and sets ``handler`` (a function of the parsed arguments returning an exit
code). To add a subcommand, add ``name: "distenv.cli_<name>"`` to :data:`SUBCOMMANDS`.

Errors distenv raises on purpose (and ``OSError``) are printed as one line naming what went
wrong, with exit code 1 and no traceback; ``--debug`` shows the traceback instead. Usage errors
exit with code 2 (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: Subcommand name -> module with ``register(subparsers, parents)``, in the order ``--help``
#: lists them.
SUBCOMMANDS: dict[str, str] = {
    "merge": "distenv.cli_merge",
    "info": "distenv.cli_info",
    "resume": "distenv.cli_resume",
}

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts (after the subcommand name too)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The ``distenv`` parser with every subcommand of :data:`SUBCOMMANDS` registered."""
    from distenv.version import __version__
    parser = argparse.ArgumentParser(
        prog="distenv", description="Parameter exploration files: merge, inspect, run.",
        epilog="'distenv COMMAND --help' explains a command.")
    parser.add_argument("--version", action="version", version="distenv %s" % __version__)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = [common_options()]
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            _register_unavailable(subparsers, name, module_name, exc)
            continue
        module.register(subparsers, parents)
    return parser


def _register_unavailable(subparsers: argparse._SubParsersAction, name: str, module_name: str,
                          exc: ImportError) -> None:
    """A subcommand whose module cannot be imported reports why when it is used."""
    parser = subparsers.add_parser(name, help="(unavailable: %s)" % exc, add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def handler(args: argparse.Namespace) -> int:
        from distenv.errors import MissingDependencyError
        raise MissingDependencyError("the %r command is unavailable: importing %s failed (%s); "
                                     "install the missing package" % (name, module_name, exc))

    parser.set_defaults(handler=handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    from distenv.errors import DistenvError
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print("distenv %s: interrupted" % args.command, file=sys.stderr)
        return EXIT_INTERRUPTED
    except (DistenvError, OSError) as exc:
        if debug:
            raise
        print("distenv %s: error: %s" % (args.command, _message(exc)), file=sys.stderr)
        return EXIT_ERROR


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename and not str(exc).count(str(exc.filename)):
        return "%s: %s" % (exc.filename, exc.strerror or exc)
    return str(exc) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
