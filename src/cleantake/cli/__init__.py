"""The ``cleantake`` console script: every subcommand's options, defined in one place.

``main(argv)`` returns the exit code (0 success, 1 unexpected failure or, for ``batch``, a
file failed, 2 a refused input or option, 130 interrupted), so it can be called from Python
as well. Modules: :mod:`.options` (options shared by subcommands), :mod:`.commands`
(``clean``, ``inspect``, ``learn``), :mod:`.batch` (``batch``), :mod:`.signals` (SIGTERM/SIGHUP as Ctrl-C). ``evaluate`` brings its own parser
(:func:`cleantake.evaluate.add_parser`).
"""

from __future__ import annotations

import argparse
import sys
import warnings

from .. import __version__, evaluate
from ..atomic import discard_unfinished
from ..errors import CleantakeError
from .batch import add_batch_parser
from .commands import add_clean_parser, add_inspect_parser, add_learn_parser
from .signals import termination_as_interrupt

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cleantake",
        description="Remove transient interference (coughs, door slams, creaks, screams, dropped objects) "
                    "from music recordings.",
    )
    parser.add_argument("--version", action="version", version=f"cleantake {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_clean_parser(sub)
    add_learn_parser(sub)
    add_inspect_parser(sub)
    evaluate.add_parser(sub)
    add_batch_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    # SIGTERM/SIGHUP act like Ctrl-C from the very start, so an interrupted run always
    # cleans up its temporary files and exits with 130.
    try:
        with termination_as_interrupt():
            parser = build_parser()
            args = parser.parse_args(argv)
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.formatwarning = lambda msg, cat, *a, **k: f"cleantake: warning: {msg}\n"
                return int(args.func(args) or 0)
    except CleantakeError as exc:
        print(f"cleantake: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        discard_unfinished()  # an interrupt between two statements of a writer
        print("cleantake: interrupted; no partial output was left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
