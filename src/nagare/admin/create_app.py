"""`nagare-admin create-app`: a new application project, ready for `pip install -e`."""

from __future__ import annotations

import argparse
import importlib.util
import keyword
import os
import re
from string import Template

from nagare.admin.command import ArgumentParser, Command
from nagare.errors import CommandError

SKELETON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "skeleton")


class CreateApp(Command):
    desc = "Create the skeleton of a new application project"

    def set_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="application name (a Python identifier)")
        parser.add_argument("--dir", default=".", help="folder to create the project in (default: here)")

    def run(self, args: argparse.Namespace) -> int:
        name = args.name
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or keyword.iskeyword(name):
            raise CommandError(f"'{name}' is not a valid application name: use letters, digits and _")
        project = os.path.join(os.path.abspath(args.dir), name)
        if os.path.exists(project):
            raise CommandError(f"{project} already exists")
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:  # a real module (not a mere folder): it would clash with the project
            raise CommandError(f"'{name}' is already the name of an installed Python module: choose another name")
        values = {"name": name, "Name": name[:1].upper() + name[1:]}
        try:
            self._copy(project, values)
        except OSError as exc:  # --dir is a file, read-only, ...: a user mistake, not a bug
            raise CommandError(f"cannot create {project}: {exc.strerror or exc}") from None
        print(f"Application '{name}' created in {project}")
        print(f"Next: pip install -e {os.path.relpath(project)} && nagare-admin serve {name}")
        return 0

    @staticmethod
    def _copy(project: str, values: dict[str, str]) -> None:
        name = values["name"]
        for folder, _, files in os.walk(SKELETON):
            relative = os.path.relpath(folder, SKELETON)
            target_folder = os.path.join(project, *(p.replace("PACKAGE", name) for p in relative.split(os.sep) if p != "."))
            os.makedirs(target_folder, exist_ok=True)
            for filename in files:
                if filename.endswith((".pyc", ".pyo")):
                    continue
                with open(os.path.join(folder, filename), encoding="utf-8") as f:
                    text = Template(f.read()).safe_substitute(values)
                target = os.path.join(target_folder, filename.replace("PACKAGE", name).removesuffix(".tmpl"))
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
