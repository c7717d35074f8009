"""The pickler of the states: fast for what views create at every request, and exact.

Views create lambdas and closures at every rendering (`h.a.action(lambda: ...)`), so a state holds
dozens of functions that the standard pickle refuses. cloudpickle accepts them by copying their
code into every state: correct, but that is most of the time of a request and most of the bytes
stored. Here a function whose code belongs to an importable module is pickled *by reference to
its code*: the module, the enclosing function's qualified name, the position of the code object
among that function's constants, and a checksum of the code. Its closure cells and defaults are
pickled by value; the code itself is not. When the code changed since the state was stored (a new
release), the checksum refuses the state instead of running other code.

Anything else that the standard pickle cannot handle (a class defined in a function, code made by
`exec`, functions of `__main__`) falls back to cloudpickle's by-value pickling.

Objects of classes mapped by SQLAlchemy are pickled as their class and primary key and loaded in
the current database session when unpickled (`nagare.database`).

Objects marked `state.stateless` are replaced by a reference `(pid)` and pickled apart, once per
session (`Pickler(shared=...)`); the `Unpickler` resolves the references from the shared objects it
is given.

The framework's classes and functions that most states hold (`Component`, `Callbacks`, the
reducers of this module...) and the names of their attributes are not written in the pickles: the
pickler starts with them in its memo (`PRIMED`), so that a state refers to them as to objects it
already wrote (two bytes each, no import by the C pickler), and the unpickler starts with the same
memo. Such a pickle is `PRIMED_V1` (one byte) then the pickle; the unpickler loads the pickles
written before as they are.
"""

from __future__ import annotations

import copyreg
import functools
import io
import pickle
import secrets
import sys
import types
import zlib
from typing import Any

import cloudpickle  # type: ignore[import-untyped]  # no type information published

from nagare.state import MARK

FunctionType = types.FunctionType
CellType = types.CellType
CodeType = types.CodeType

# Caches of what code objects are; code does not change while a process runs (a reloader restarts
# the process), so they are never invalidated.
# Keyed by id(): code objects compare equal by content, and the same lambda in two modules must
# not be taken for the other. The entry keeps the code object alive, so its id is not reused.
# id(code) -> (code, ("global",) | (module, outer qualname, path of indexes, checksum) | None)
_references: dict[int, tuple[CodeType, tuple[Any, ...] | None]] = {}
# reference -> (module, code object); the module is checked, in case it was reloaded
_codes: dict[tuple[Any, ...], tuple[Any, CodeType]] = {}
# id(class) -> (class, importable by its name?)
_classes: dict[int, tuple[type, bool]] = {}
# type -> what its objects are to `Pickler.reducer_override` (one of the roles below)
_roles: dict[type, object] = {}
_INSTANCE = "instance"  # any other object: stateless (shared), or pickled by the C pickler
_CLASS = "class"  # a class: by name when importable, by value otherwise
_CELL = "cell"  # a closure cell: made empty, filled after (a cell may be in a cycle)
_ENTITY = "entity"  # an object of a class mapped by SQLAlchemy: its class and primary key


def _role_of(kind: type) -> object:
    if issubclass(kind, type):
        return _CLASS
    if kind is CellType:
        return _CELL
    if hasattr(kind, "_sa_class_manager"):  # SQLAlchemy instruments the classes it maps
        return _ENTITY
    return _INSTANCE


_modules = sys.modules
_MISSING = object()
# (copyreg's dispatch table as it was, merged with cloudpickle's): the picklers' dispatch table,
# read-only once made (the C pickler only looks types up in it)
_dispatch: tuple[dict[Any, Any], dict[Any, Any]] = ({None: None}, {})


def _importable(cls: type) -> bool:
    module = sys.modules.get(getattr(cls, "__module__", None) or "")
    if module is None or module.__name__ == "__main__":
        return False
    try:
        return _resolve(module, cls.__qualname__) is cls
    except AttributeError:
        return False


def checksum(code: CodeType) -> int:
    """A checksum of what a code object does, stable across processes (unlike hash())."""
    crc = zlib.crc32(code.co_code)
    crc = zlib.crc32("\0".join((*code.co_names, *code.co_varnames, *code.co_freevars)).encode(), crc)
    return zlib.crc32(repr([c for c in code.co_consts if not isinstance(c, CodeType)]).encode(), crc)


def _find_code(container: CodeType, code: CodeType, path: tuple[int, ...] = ()) -> tuple[int, ...] | None:
    for index, const in enumerate(container.co_consts):
        if isinstance(const, CodeType):
            if const is code:
                return (*path, index)
            found = _find_code(const, code, (*path, index))
            if found is not None:
                return found
    return None


def _resolve(module: Any, qualname: str) -> Any:
    obj = module
    for name in qualname.split("."):
        obj = getattr(obj, name)
    return obj


def _outer_codes(obj: Any) -> list[CodeType]:
    """The code objects behind `obj`: a function, a method, a decorated function."""
    codes = []
    for _ in range(10):
        obj = getattr(obj, "__func__", obj)
        code = getattr(obj, "__code__", None)
        if isinstance(code, CodeType):
            codes.append(code)
        obj = getattr(obj, "__wrapped__", None)
        if obj is None:
            break
    return codes


def _locate(func: FunctionType) -> tuple[Any, ...] | None:
    code = func.__code__
    module_name = func.__module__
    module = sys.modules.get(module_name) if module_name else None
    if module is None or module_name == "__main__" or func.__globals__ is not getattr(module, "__dict__", None):
        return None
    qualname = func.__qualname__
    if "<" not in qualname:
        try:
            if _resolve(module, qualname) is func:
                return ("global",)
        except AttributeError:
            return None
    outer, sep, _ = qualname.partition(".<locals>.")
    if not sep or "<" in outer:
        return None
    try:
        candidates = _outer_codes(_resolve(module, outer))
    except AttributeError:
        return None
    for candidate in candidates:
        path = _find_code(candidate, code)
        if path is not None:
            # interned: the reference of each code object of one function names it with one string
            return (module_name, sys.intern(outer), path, checksum(code))
    return None


def code_of(module_name: str, outer: str, path: tuple[int, ...], crc: int) -> CodeType:
    """The code object a reference names; `pickle.UnpicklingError` when it changed or is gone."""
    key = (module_name, outer, path, crc)
    entry = _codes.get(key)
    if entry is None or sys.modules.get(module_name) is not entry[0]:
        code = _find_referenced_code(module_name, outer, path, crc)
        entry = _codes[key] = (sys.modules[module_name], code)
    return entry[1]


def _find_referenced_code(module_name: str, outer: str, path: tuple[int, ...], crc: int) -> CodeType:
    try:
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        candidates = _outer_codes(_resolve(module, outer))
    except (ImportError, AttributeError):
        candidates = []
    for candidate in candidates:  # a decorated function: the wrapper's code, then the original's
        code: Any = candidate
        try:
            for index in path:
                code = code.co_consts[index]
        except (AttributeError, IndexError):
            continue
        if isinstance(code, CodeType) and checksum(code) == crc:
            return code
    raise pickle.UnpicklingError(f"the code of a function of {module_name}.{outer} changed since the state was stored")


def _function(reference: tuple[str, str, tuple[int, ...], int], closure: tuple[CellType, ...] | None) -> FunctionType:
    """The function of the code `reference` names (`_locate`'s), with `closure`."""
    entry = _codes.get(reference)
    if entry is None or _modules.get(reference[0]) is not entry[0]:
        code_of(*reference)
        entry = _codes[reference]
    # Its name and qualified name are the code's.
    return FunctionType(entry[1], entry[0].__dict__, None, None, closure)


def _make_function(module_name: str, outer: str, path: tuple[int, ...], crc: int, closure: tuple[CellType, ...] | None) -> FunctionType:
    """`_function` as states stored before it name it (the reference spread out)."""
    code = code_of(module_name, outer, path, crc)
    module = sys.modules[module_name]
    function = FunctionType(code, module.__dict__, code.co_name, None, closure)
    function.__qualname__ = code.co_qualname
    return function


def _set_function_state(function: FunctionType, state: tuple[Any, Any, Any]) -> None:
    function.__defaults__, function.__kwdefaults__, attributes = state
    if attributes:
        function.__dict__.update(attributes)


def _empty_cell() -> CellType:
    return CellType()


def _fill_cell(cell: CellType, state: tuple[bool, Any]) -> None:
    if state[0]:
        cell.cell_contents = state[1]


def _shared_placeholder(pid: str) -> Any:
    raise pickle.UnpicklingError("a shared object reference outside of a session state")


#: The first byte of a pickle written with the memo primed by `PRIMED` (a plain pickle begins
#: with PROTO, 0x80). A change of `PRIMED` is a new version: the states stored before keep theirs.
PRIMED_V1 = b"\x01"

#: What the memo of a pickle starts with, in this order (version 1): (module, name) of objects
#: that every process imports alike, then strings (attribute names: the pickler's memo knows
#: objects by identity, and these are interned like the names of the attributes).
PRIMED: tuple[tuple[str, str] | str, ...] = (
    ("nagare.component", "Component"),
    ("nagare.callbacks", "Callbacks"),
    ("nagare.partial", "_restore"),
    ("nagare.var", "Var"),
    ("nagare.editor", "Property"),
    (__name__, "_function"),
    (__name__, "_set_function_state"),
    (__name__, "_empty_cell"),
    (__name__, "_fill_cell"),
    (__name__, "_shared_placeholder"),
    ("types", "MethodType"),
    ("functools", "partial"),
    ("nagare.component", "PendingCall"),
    ("nagare.component", "_task_finished"),
    ("nagare.flow.engine", "Continuation"),
    ("nagare.ajax", "Update"),
    # Component's, Callbacks' and PendingCall's attributes
    "o",
    "model",
    "url",
    "_on_answer",
    "_dom_id",
    "callbacks",
    "next",
    "component",
    "listener",
    "continuation",
)

# (the objects of PRIMED, the pickler whose memo holds them, the pickle that memoizes them, the
# objects by index: what the persistent ids of that pickle name)
_primed: tuple[tuple[object, ...], Any, bytes, dict[int, object]] | None = None
_SHARED_INDEX = PRIMED.index((__name__, "_shared_placeholder"))


def _priming() -> tuple[tuple[object, ...], Any, bytes, dict[int, object]]:
    """Made on first use: the modules of `PRIMED` import this one."""
    global _primed
    if _primed is None:
        objects = tuple(
            entry if isinstance(entry, str) else _resolve(__import__(entry[0], fromlist=["_"]), entry[1])
            for entry in PRIMED
        )
        template = pickle.Pickler(io.BytesIO(), pickle.HIGHEST_PROTOCOL)
        template.memo = {index: (index, obj) for index, obj in enumerate(objects)}
        # The objects memoized in the order of their indexes, each by its persistent id (its
        # index: `Unpickler.persistent_load`), then None: a pickle of its own, loaded first.
        memoize = b"".join(b"K%cQ\x940" % index for index in range(len(objects)))
        _primed = objects, template, b"\x80\x05" + memoize + b"N.", dict(enumerate(objects))
    return _primed


class Pickler(cloudpickle.Pickler):  # type: ignore[misc]  # untyped base class
    """Pickles a state; with `shared`, stateless objects are referenced, not copied.

    `shared` maps id(obj) -> (pid, obj) and is updated with the stateless objects met. With
    `primed` (the default), the pickle refers to the objects of `PRIMED` by their place in the
    memo both sides start with (see the module docstring).
    """

    def __init__(self, file: io.BytesIO, shared: dict[int, tuple[str, Any]] | None = None, primed: bool = True) -> None:
        # A plain dict, not cloudpickle's ChainMap: the C pickler looks the type of every object
        # up in it, and a ChainMap answers in Python. Merged again when copyreg's changed, so
        # that reducers registered with copyreg later are seen.
        global _dispatch
        registered, merged = _dispatch
        if registered != copyreg.dispatch_table:
            registered = dict(copyreg.dispatch_table)
            merged = {**registered, **cloudpickle.Pickler._dispatch_table}
            _dispatch = registered, merged
        self.dispatch_table = merged
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared
        self._kinds: dict[type, tuple[object, object]] = {}  # type -> (role, the class's mark)
        self._file = file if primed else None

    def dump(self, obj: Any) -> None:
        if self._file is not None:
            self._file.write(PRIMED_V1)
            self.memo = _priming()[1].memo  # a copy of the template's (a C table copied)
        super().dump(obj)

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is FunctionType:
            code = obj.__code__
            entry = _references.get(id(code))
            if entry is None or entry[0] is not code:
                entry = _references[id(code)] = (code, _locate(obj))
            reference = entry[1]
            if reference is None:
                return super().reducer_override(obj)
            if len(reference) == 1:
                return NotImplemented  # a module-level function: the standard pickling by name
            # The reference is one tuple per code object: the pickler's memo writes it once for
            # all the functions of that code (the actions of a loop in a view).
            defaults, kwdefaults, attributes = obj.__defaults__, obj.__kwdefaults__, obj.__dict__
            if defaults is None and kwdefaults is None and not attributes:
                # The usual lambda of a view: nothing to set once made (a state to set costs
                # 7 bytes and a call when loaded, a dozen times a page).
                return _function, (reference, obj.__closure__)
            state = (defaults, kwdefaults, attributes or None)
            return _function, (reference, obj.__closure__), state, None, None, _set_function_state
        known = self._kinds.get(kind)
        if known is None:
            role = _roles.get(kind)
            if role is None:
                role = _roles[kind] = _role_of(kind)
            # A class's mark, read once a pickling (the objects of a class are many in a state,
            # and a class without the attribute costs an AttributeError to ask)
            known = self._kinds[kind] = (role, getattr(kind, MARK, None) if role is _INSTANCE else None)
        role = known[0]
        if role is _INSTANCE:
            if self.shared is None:
                return NotImplemented
            # state.is_stateless(), inlined: this runs for every object of the state
            mark = known[1]
            try:
                mark = obj.__dict__.get(MARK, mark)
            except AttributeError:
                pass
            if mark is True:
                shared = self.shared.get(id(obj))
                if shared is None:
                    shared = self.shared[id(obj)] = (secrets.token_hex(8), obj)
                return _shared_placeholder, (shared[0],)
            return NotImplemented  # the C pickler and its dispatch table
        if role is _CLASS:
            entry_ = _classes.get(id(obj))
            if entry_ is None or entry_[0] is not obj:
                entry_ = _classes[id(obj)] = (obj, _importable(obj))
            if entry_[1]:
                return NotImplemented  # by name, as the standard pickle does
            return super().reducer_override(obj)  # classes defined in functions, by value
        if role is _CELL:
            try:
                contents: tuple[bool, Any] = (True, obj.cell_contents)
            except ValueError:
                contents = (False, None)
            return _empty_cell, (), contents, None, None, _fill_cell
        from nagare.database import reduce_entity  # SQLAlchemy is there: it mapped the class

        return reduce_entity(obj)


class Unpickler(pickle.Unpickler):
    """Unpickles a state, resolving its references to the session's shared objects."""

    def __init__(self, file: io.BytesIO, shared: dict[str, Any]) -> None:
        self._primed = file.read(1) == PRIMED_V1
        if self._primed:
            # The C unpickler's memo cannot be given (its setter does not count the entries, and
            # the pickle's own would overwrite them): it loads the pickle that memoizes them first.
            file = io.BytesIO(_priming()[2] + file.read())
        else:
            file.seek(-1, io.SEEK_CUR)  # a pickle stored before PRIMED_V1: as it is
        super().__init__(file)
        self.shared = shared
        if self._primed:
            # Only the pickle of `_priming` has persistent ids: the index of an object of PRIMED,
            # found by a dict's lookup (C: no Python call for each of them), and for
            # `_shared_placeholder` this unpickler's shared objects, as `find_class` gives them
            # (not a bound method: the memo would hold the unpickler, a cycle for the collector).
            objects = _priming()[3].copy()
            objects[_SHARED_INDEX] = functools.partial(_shared_object, shared)
            self.persistent_load = objects.__getitem__  # type: ignore[method-assign]  # the C unpickler's attribute
        else:
            self.persistent_load = _no_persistent_id  # type: ignore[method-assign]

    def load(self) -> Any:
        if self._primed:
            super().load()  # the objects of PRIMED memoized, then None
            self._primed = False
            self.persistent_load = _no_persistent_id  # type: ignore[method-assign]
        return super().load()

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_shared_placeholder":
            return self.shared_object
        # A module already imported, a name without dots: what the standard lookup finds, without
        # its import machinery (two dozen globals a state; the bytes are authenticated already).
        loaded = _modules.get(module)
        if loaded is not None and "." not in name:
            found = getattr(loaded, name, _MISSING)
            if found is not _MISSING:
                return found
        return super().find_class(module, name)

    def shared_object(self, pid: str) -> Any:
        return _shared_object(self.shared, pid)


def _no_persistent_id(pid: Any) -> Any:
    raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")


def _shared_object(shared: dict[str, Any], pid: str) -> Any:
    try:
        return shared[pid]
    except (KeyError, TypeError):
        raise pickle.UnpicklingError(f"state refers to an unknown shared object {pid!r}") from None
