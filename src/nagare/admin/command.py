"""The base of the `nagare-admin` commands."""

from __future__ import annotations

import argparse
from typing import NoReturn

from nagare.errors import CommandError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a wrong command line is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')")


class Command:
    """A sub-command: `desc` for the list, `set_arguments()` for the parser, `run()` the work."""

    desc = ""

    def set_arguments(self, parser: ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError

    def parser(self, prog: str) -> ArgumentParser:
        parser = ArgumentParser(prog=prog, description=self.desc)
        self.set_arguments(parser)
        return parser

