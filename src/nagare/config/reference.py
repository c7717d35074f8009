"""Object references of configuration files: `app <name>`, `egg <dist>:<app>`, `python mod:obj`
(or bare `mod:obj`), `file /path/x.py:obj`."""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from typing import Any

from nagare.errors import ObjectReferenceError

APPLICATIONS = "nagare.applications"


def entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    """The entry points of `group` by name (the first installed wins on duplicates)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry in importlib.metadata.entry_points(group=group):
        found.setdefault(entry.name, entry)
    return found


def load_entry_point(entry: importlib.metadata.EntryPoint, what: str) -> Any:
    try:
        return entry.load()
    except Exception as exc:  # an application that fails to import: report, don't trace
        raise ObjectReferenceError(f"{what} '{entry.name}' ({entry.value}) cannot be loaded: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error in {exc.filename}, line {exc.lineno}: {exc.msg}"
    text = " ".join(str(exc).split())  # one line, whatever the application raised
    return f"{type(exc).__name__}: {text}"


def _split(reference: str, kind: str) -> tuple[str, str]:
    target, sep, attribute = reference.rpartition(":")
    if not sep or not target or not attribute:
        raise ObjectReferenceError(f"'{kind} {reference}': expected <{kind == 'file' and 'path' or 'module'}>:<object>")
    return target.strip(), attribute.strip()


def _attribute(obj: Any, path: str, reference: str) -> Any:
    for name in path.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise ObjectReferenceError(f"'{reference}': no '{path}' in it") from None
    return obj


def import_module(name: str, reference: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise ObjectReferenceError(f"'{reference}': no module named '{exc.name}'") from None
        raise ObjectReferenceError(f"'{reference}' cannot be imported: {_describe(exc)}") from exc
    except Exception as exc:
        raise ObjectReferenceError(f"'{reference}' cannot be imported: {_describe(exc)}") from exc


def load_file(path: str, reference: str) -> Any:
    """Import a Python file as a module with a stable name, so that its objects pickle by reference."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise ObjectReferenceError(f"'{reference}': no such file {path}")
    stem = os.path.splitext(os.path.basename(path))[0]
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    name = f"nagare_file_{''.join(c if c.isalnum() else '_' for c in stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ObjectReferenceError(f"'{reference}' cannot be loaded: {_describe(exc)}") from exc
    return module


def load(reference: str) -> Any:
    """The object a reference names; `ObjectReferenceError` (one line) when it cannot be loaded."""
    text = reference.strip()
    kind, _, rest = text.partition(" ")
    rest = rest.strip()
    if kind in ("app", "egg", "python", "file") and not rest:
        raise ObjectReferenceError(f"'{text}': nothing after '{kind}'")
    if kind == "app":
        entry = entry_points(APPLICATIONS).get(rest)
        if entry is None:
            raise ObjectReferenceError(f"'{text}': no application '{rest}' is registered")
        return load_entry_point(entry, "application")
    if kind == "egg":
        dist, app = _split(rest, "egg")
        try:
            distribution = importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            raise ObjectReferenceError(f"'{text}': no distribution '{dist}' is installed") from None
        for entry in distribution.entry_points:
            if entry.group == APPLICATIONS and entry.name == app:
                return load_entry_point(entry, "application")
        raise ObjectReferenceError(f"'{text}': '{dist}' registers no application '{app}'")
    if kind == "file":
        path, attribute = _split(rest, "file")
        return _attribute(load_file(path, text), attribute, text)
    if kind == "python":
        text_ = rest
    elif " " in text:
        raise ObjectReferenceError(f"'{text}': unknown reference kind '{kind}' (app, egg, python or file)")
    else:
        text_ = text
    module, attribute = _split(text_, "python")
    return _attribute(import_module(module, text), attribute, text)
