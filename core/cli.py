"""The ``pathreason`` command line. Sub-commands import heavy libraries only when they run."""

from __future__ import annotations

import argparse
import json
import logging
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
    failed = [i for i in infos if i.status == "failed"]
    for i in failed:
        print(f"\n{i.where()} failed: {i.error}", file=sys.stderr)
    return 0


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header).rstrip())
    print(line.format(*("-" * w for w in widths)).rstrip())
    for row in rows:
        print(line.format(*row).rstrip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pathreason",
        description="Reasoning and visual-token allocation for pathology vision-language models.",
    )
    parser.add_argument("--version", action="version", version=f"pathreason {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
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
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if extra and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    args.overrides = extra
    try:
        result: Any = args.func(args)
    except PathreasonError as exc:
        print(f"pathreason: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pathreason: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
