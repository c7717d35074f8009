"""`nagare-admin create-rules`: the front web server's rules serving the static files."""

from __future__ import annotations

import argparse
import os

import nagare
from nagare.admin.command import ArgumentParser, Command
from nagare.config import application

# Not imported from nagare.wsgi.loader: printing rules must not need the whole request stack.
NAGARE_STATIC = os.path.join(os.path.dirname(os.path.abspath(nagare.__file__)), "static")


def rules(statics: list[tuple[str, str]], server: str) -> str:
    """The rules text of `server` (apache, nginx, lighttpd) for (name, folder) pairs."""
    if server == "apache":
        lines = ["RewriteEngine On"]
        lines += [f"RewriteRule ^/static/{name}/(.*)$ {folder}/$1 [L]" for name, folder in statics]
        return "\n".join(lines) + "\n"
    if server == "nginx":
        return "".join(f"location /static/{name}/ {{\n  alias {folder}/;\n}}\n\n" for name, folder in statics)
    lines = ["url.rewrite = ("]
    lines += [f'  "^/static/{name}/(.*)" => "{folder}/$1",' for name, folder in statics]
    lines.append(")")
    return "\n".join(lines) + "\n"


class CreateRules(Command):
    desc = "Print the rules serving the static files with Apache, Nginx or Lighttpd"

    def set_arguments(self, parser: ArgumentParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("-a", "--apache", dest="server", action="store_const", const="apache", help="Apache rewrite rules (default)")
        group.add_argument("-n", "--nginx", dest="server", action="store_const", const="nginx", help="Nginx locations")
        group.add_argument("-l", "--lighttpd", dest="server", action="store_const", const="lighttpd", help="Lighttpd url.rewrite")
        parser.add_argument("apps", nargs="*", metavar="app", help="registered application name or config file (default: all registered)")

    def run(self, args: argparse.Namespace) -> int:
        references = args.apps or sorted(application.registered())
        statics = [("nagare", NAGARE_STATIC)]
        for reference in references:
            conf = application.read(reference)
            folder = conf.application.static
            if folder and os.path.isdir(folder):
                statics.append((conf.name, os.path.abspath(folder).rstrip("/")))
        print(rules(statics, args.server or "apache"), end="")
        return 0
