"""The ``pathreason`` command line. Sub-commands import heavy libraries only when they run."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from pathreason._version import __version__
from pathreason.api import PathreasonError


def _cmd_plugins(args: argparse.Namespace) -> int:
    from pathreason.registry import list_plugins

    infos = list_plugins()
    if args.json:
        print(json.dumps([i.as_dict() for i in infos], indent=2))
        return 0
    rows = []
    for i in infos:
        provides = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(i.provides.items()))
        rows.append((i.name, f"{i.distribution} {i.version}".strip(), i.status, provides or (i.error or "")))
    _print_table(("name", "distribution", "status", "provides"), rows)
    for i in infos:  # the full text, which the table cuts to its first line
        if i.status == "failed":
            print(f"\n{i.where()} failed: {i.error}", file=sys.stderr)
        for conflict in i.conflicts:
            print(f"\n{i.where()} conflict: {conflict}", file=sys.stderr)
    return 0


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain text table; a cell holding several lines shows its first (the caller prints the rest)."""
    cells = [[str(x).strip().split("\n", 1)[0].rstrip() for x in row] for row in [header, *rows]]
    widths = [max(len(x) for x in col) for col in zip(*cells)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*cells[0]).rstrip())
    print(line.format(*("-" * w for w in widths)).rstrip())
    for row in cells[1:]:
        print(line.format(*row).rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pathreason",
        description="Reasoning and visual-token allocation for pathology vision-language models.",
    )
    parser.add_argument("--version", action="version", version=f"pathreason {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show library messages, progress bars and tracebacks (always in the run's log.txt)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list installed plugins and what each provides")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=_cmd_plugins)

    from pathreason import commands

    commands.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    from pathreason.console import quiet

    quiet(verbose=args.verbose)  # library output to the run's log.txt; -v keeps it on the console too
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    args.overrides = extra
    try:
        result: Any = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        return _stdout_closed()
    except PathreasonError as exc:
        logging.getLogger("pathreason").debug("traceback:", exc_info=exc)  # with -v
        print(f"pathreason: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pathreason: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _stdout_closed() -> int:
    """The reader of standard output went away (``pathreason plugins --json | head``): stop quietly,
    as a shell tool does, with status 141 (128 + SIGPIPE). Standard output is pointed at
    ``os.devnull`` so that Python's final flush of what is left does not report the pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # standard output replaced by an object without a file descriptor
        pass
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
