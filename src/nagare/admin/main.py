"""`nagare-admin`: the commands registered in the entry-point group `nagare.commands`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from nagare import log
from nagare.config.reference import entry_points, load_entry_point
from nagare.errors import NagareError

COMMANDS = "nagare.commands"


def usage() -> str:
    lines = ["Usage: nagare-admin <command> [options] (nagare-admin <command> --help for its options)", "", "Commands:"]
    for name, entry in sorted(entry_points(COMMANDS).items()):
        try:
            desc = load_entry_point(entry, "command").desc
        except NagareError as exc:
            desc = f"(broken: {exc})"
        lines.append(f" - {name} : {desc}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stderr)
        return 2 if not argv else 0
    name, rest = argv[0], argv[1:]
    entry = entry_points(COMMANDS).get(name)
    if entry is None:
        print(f"nagare-admin: unknown command '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    prog = f"nagare-admin {name}"
    try:
        command = load_entry_point(entry, "command")()
        args = command.parser(prog).parse_args(rest)
        return command.run(args) or 0
    except NagareError as exc:
        log.drain()  # the log lines that led to the error come before it
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The console script."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # `nagare-admin info | head`: the reader left; say nothing more (and not at exit either).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 1
    sys.exit(status)
