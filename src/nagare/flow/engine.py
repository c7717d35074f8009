"""The continuation engine: suspend a running flow into data, and re-enter it from that data.

`comp.call()` raises `Suspended` (a `BaseException`, so that `except Exception` in applications
lets it pass). The delimiter that started the flow (`run()`: around `Task.go`, every action
callback, `Continuation(...)`) catches it and records, for each frame from the entry function
down to the call, its function (module, qualified name, bytecode fingerprint), the offset of the
instruction running (`f_lasti`) and its locals. That `Continuation` is kept with the component
that was called and pickled with the page state: it is plain data, so it resumes in any process.

`resume()` calls the entry again under a trace function. For each expected frame, when its
function is called from the frame restored just before, at the recorded instruction (the call-site
guard), the saved locals are written into the new frame and, at its first line, the frame jumps
to the start of the statement that made the call. The last frame, `Component.call`, jumps to its
`return` and returns the answer. The trace function in place before (a debugger, coverage) is put
back as soon as the last frame is restored.

The design, what its prototype measured and the designs rejected are in the design note
`continuations.md`; the rules users follow are in docs/guide.md ("Flows").
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
from collections.abc import Callable
from types import CodeType, FrameType, MethodType, TracebackType
from typing import Any

from nagare.errors import ContinuationError
from nagare.flow.analysis import UnsupportedSuspension, resume_line

__all__ = [
    "Suspended",
    "Continuation",
    "FlowBroken",
    "CodeChanged",
    "UnsupportedSuspension",
    "run",
    "resume",
    "active",
    "suspension_point",
    "answer",
    "SUSPENDED",
]

log = logging.getLogger("nagare.flow")

TraceFunction = Callable[[FrameType, str, Any], Any]


class Suspended(BaseException):
    """Unwinds a flow from `comp.call()` to its delimiter; applications never see it."""

    def __init__(self, pending: object) -> None:
        super().__init__()
        self.pending = pending


class FlowBroken(ContinuationError):
    """A suspended flow cannot resume where it stopped (the hook decides what happens)."""


class CodeChanged(FlowBroken):
    """A function of a suspended flow is not the one that suspended (a deploy changed it)."""


#: What `run()` and `resume()` return when the flow suspended again.
SUSPENDED: Any = type("Suspended", (), {"__repr__": lambda self: "SUSPENDED", "__reduce__": lambda self: "SUSPENDED"})()

# --- code fingerprints ---------------------------------------------------------------------------

# Caches keyed by id(code): hashing a code object hashes its contents at every lookup (2 µs for a
# long function on 3.12). Each entry keeps its code object alive, so the id is not reused.
_digests: dict[int, tuple[CodeType, bytes]] = {}


def digest(code: CodeType) -> bytes:
    """The fingerprint of a function's logic: its bytecode, the names it uses and its constants
    other than texts — not its lines.

    Line numbers, comments and the strings of the code (message texts, docstrings) are not part
    of it, so editing them resumes; any other change of the function (a number included) makes
    another fingerprint.
    """
    entry = _digests.get(id(code))
    if entry is not None and entry[0] is code:
        return entry[1]
    h = hashlib.sha256(code.co_code)
    h.update("\0".join(code.co_names).encode())
    h.update(b"\1")
    h.update("\0".join(code.co_varnames + code.co_cellvars + code.co_freevars).encode())
    h.update(b"\1")
    h.update(_constants(code.co_consts).encode())
    result = h.digest()[:8]
    _digests[id(code)] = (code, result)
    return result


def _constants(consts: tuple[object, ...]) -> str:
    """The constants of a code object that are logic: numbers, None, booleans, and the shape of the rest."""
    parts = []
    for const in consts:
        if isinstance(const, (str, bytes)):
            parts.append(type(const).__name__)  # a text: its value may change, not its place
        elif isinstance(const, CodeType):
            parts.append("code")  # a nested function: its own fingerprint when it runs
        elif isinstance(const, (tuple, frozenset)):
            items = const if isinstance(const, tuple) else sorted(const, key=repr)
            parts.append(f"({_constants(tuple(items))})")
        else:
            parts.append(repr(const))
    return ",".join(parts)


def _resolve(module: str, qualname: str) -> CodeType | None:
    """The code now behind `module.qualname`: None when it cannot be found without running code.

    `CodeChanged` when the name is gone, or names another function now (`ask = question`, a
    method that an override no longer hides).
    """
    if "<" in qualname:
        return None  # a nested function: found when it is called
    target: Any = sys.modules.get(module)
    if target is None:
        return None
    for part in qualname.split("."):
        target = getattr(target, part, _MISSING)
        if target is _MISSING:
            raise CodeChanged(f"{module}.{qualname} does not exist any more")
    target = getattr(target, "__func__", target)
    while hasattr(target, "__wrapped__"):
        target = target.__wrapped__
    code = getattr(target, "__code__", None)
    if not isinstance(code, CodeType):
        return None
    if code.co_qualname != qualname:
        if "<locals>" in code.co_qualname:
            return None  # a decorator's wrapper without functools.wraps: checked when called
        raise CodeChanged(f"{module}.{qualname} is now {code.co_qualname}")
    return code


_MISSING = object()

# --- the points where a flow suspends --------------------------------------------------------------

#: The code of each function that raises `Suspended`, with the line of its final `return`.
_points: dict[int, int] = {}  # id(code) -> line (these functions live as long as the process)

_slot = threading.local()


def suspension_point(f: Callable[..., Any]) -> Callable[..., Any]:
    """Declare `f` as raising `Suspended`: a resumed flow jumps to its last line, which returns `answer()`."""
    code: CodeType = f.__code__
    _points[id(code)] = max(line for _, _, line in code.co_lines() if line is not None)
    return f


def answer() -> object:
    """In a suspension point resumed: the answer the flow resumes with."""
    value = _slot.answer
    del _slot.answer
    return value


# --- the data of a suspended flow --------------------------------------------------------------

#: One frame: module, qualified name, fingerprint, instruction offset, locals.
Frame = tuple[str, str, bytes, int, dict[str, object]]


class Continuation:
    """A suspended flow: the entry to call again, and the frames to re-enter.

    Pickled as a plain object (created before its contents), so that the cycles it is part of
    (the component called holds it, its frames hold the component) pickle as they are.
    """

    __slots__ = ("entry", "args", "kw", "finish", "frames")

    def __init__(
        self,
        entry: Callable[..., object],
        args: tuple[object, ...],
        kw: dict[str, object],
        finish: Callable[[object, bool], object] | None,
        frames: tuple[Frame, ...],
    ) -> None:
        self.entry = entry
        self.args = args
        self.kw = kw
        self.finish = finish
        self.frames = frames

    def __getstate__(self) -> tuple[object, ...]:
        entry: object = self.entry
        if type(entry) is MethodType:  # (object, name): fewer bytes than a pickled bound method
            entry = (entry.__self__, entry.__func__.__name__)
        return (entry, self.args, self.kw, self.finish, self.frames)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        entry, self.args, self.kw, self.finish, self.frames = state
        self.entry = getattr(entry[0], entry[1]) if type(entry) is tuple else entry

    def __repr__(self) -> str:
        where = " > ".join(f"{qualname}" for _, qualname, *_ in self.frames)
        return f"<Continuation {where}>"

    @property
    def where(self) -> str:
        """The functions of the flow, outermost first."""
        return " > ".join(f"{module}.{qualname}" for module, qualname, *_ in self.frames[:-1])


# --- the delimiter ---------------------------------------------------------------------------------

_depth = threading.local()


def active() -> bool:
    """True inside a delimited run: a `comp.call()` here can suspend and resume."""
    return getattr(_depth, "n", 0) > 0


def run(
    entry: Callable[..., object],
    args: tuple[object, ...] = (),
    kw: dict[str, object] | None = None,
    finish: Callable[[object, bool], object] | None = None,
) -> object:
    """Call `entry(*args, **kw)` as a flow: `finish(result, False)` when it returns, or SUSPENDED."""
    return _delimited(entry, args, kw or {}, finish, None)


def resume(continuation: Continuation, value: object) -> object:
    """Re-enter `continuation` with `value` as the answer of its `comp.call()`.

    Returns what its `finish` returns when the flow ends, or SUSPENDED when it calls again.
    `FlowBroken` when it cannot resume (the functions changed), before any code runs where that
    is known in advance.
    """
    codes = _codes(continuation.frames)
    resumer: _Resumer = (_MonitoredResumer if _MONITORING and None not in codes else _Resumer)(continuation, value, codes)
    return _delimited(continuation.entry, continuation.args, continuation.kw, continuation.finish, resumer)


# (module, qualname, fingerprint) -> (the module, the code found there: None for a nested function)
_checked: dict[tuple[str, str, bytes], tuple[Any, CodeType | None]] = {}


def _codes(frames: tuple[Frame, ...]) -> list[CodeType | None]:
    """The code object of each frame where it can be found by name, its fingerprint checked.

    `CodeChanged` when one changed. Cached per module object: a module imported again (a test
    that deploys) is looked at again.
    """
    codes: list[CodeType | None] = []
    for module, qualname, fingerprint, _, _ in frames:
        key = (module, qualname, fingerprint)
        entry = _checked.get(key)
        if entry is None or entry[0] is not sys.modules.get(module):
            code = _resolve(module, qualname)
            if code is not None and digest(code) != fingerprint:
                raise CodeChanged(f"{module}.{qualname} changed since the flow suspended")
            entry = _checked[key] = (sys.modules.get(module), code)
        codes.append(entry[1])
    return codes


def _delimited(
    entry: Callable[..., object],
    args: tuple[object, ...],
    kw: dict[str, object],
    finish: Callable[[object, bool], object] | None,
    resumer: _Resumer | None,
) -> object:
    _depth.n = getattr(_depth, "n", 0) + 1
    try:
        result = entry(*args, **kw) if resumer is None else resumer.call(entry, args, kw)
    except Suspended as suspension:
        pending: Any = suspension.pending
        if resumer is not None and resumer.callbacks and resumer.from_c_code([t.tb_frame for t in _frames(suspension.__traceback__)]):
            pending.cancel()
            raise UnsupportedSuspension(
                "suspended in a function called back by C code (map, sorted, filter...): its progress "
                "cannot be kept; write a loop",
                *_place(suspension.__traceback__),
            ) from None
        if resumer is not None and not resumer.done:
            resumer.stop()
            pending.cancel()
            module, qualname, _, lasti, _ = resumer.expected
            raise UnsupportedSuspension(
                f"suspended again before reaching the call it resumes ({qualname}): "
                "two suspending calls in one statement, or a call through C code (map, sorted)? "
                "Write one call per statement, or mark the function @resumable",
                *_place(suspension.__traceback__),
            ) from None
        try:
            pending.continuation = Continuation(entry, args, kw, finish, _capture(suspension.__traceback__))
        except UnsupportedSuspension as refused:
            pending.cancel()
            raise refused from None  # the place of the call is in the message: not the engine's frames
        except BaseException:
            pending.cancel()
            raise
        return SUSPENDED
    finally:
        _depth.n -= 1
    if resumer is not None and not resumer.done:
        resumer.stop()
        module, qualname, _, _, _ = resumer.expected
        raise FlowBroken(f"the flow ended without reaching its suspended call in {module}.{qualname}")
    return result if finish is None else finish(result, resumer is not None)


_OWN: set[int] = set()  # id() of the engine's own code objects: their frames are skipped at capture


def _frames(tb: TracebackType | None) -> list[TracebackType]:
    result = []
    while tb is not None:
        if id(tb.tb_frame.f_code) not in _OWN:
            result.append(tb)
        tb = tb.tb_next
    return result


def _place(tb: TracebackType | None) -> tuple[str, int]:
    frames = _frames(tb)
    user = [t for t in frames if id(t.tb_frame.f_code) not in _points] or frames
    last = user[-1]
    return last.tb_frame.f_code.co_filename, last.tb_lineno


def _capture(tb: TracebackType | None) -> tuple[Frame, ...]:
    frames = _frames(tb)
    if not frames or id(frames[-1].tb_frame.f_code) not in _points:
        raise ContinuationError("Suspended raised outside a suspension point")
    records: list[Frame] = []
    for tb in frames[:-1]:
        frame, code = tb.tb_frame, tb.tb_frame.f_code
        resume_line(code, tb.tb_lasti)  # refuses, at the call, what could not resume
        f_locals = frame.f_locals
        names = code.co_varnames + code.co_cellvars
        kept = {name: f_locals[name] for name in names if name in f_locals}
        records.append((frame.f_globals.get("__name__", "?"), code.co_qualname, digest(code), tb.tb_lasti, kept))
    last = frames[-1]
    records.append((last.tb_frame.f_globals["__name__"], last.tb_frame.f_code.co_qualname, digest(last.tb_frame.f_code), last.tb_lasti, {}))
    return tuple(records)


# --- re-entering ---------------------------------------------------------------------------------


class _Resumer:
    """The trace function that re-enters the frames of one continuation, in order.

    Once the last frame is restored, it keeps watching the restored frames until each moves on
    from its call (its next line, or its return): a Python function called again from the same
    call instruction in the meantime can only come from C code (`map`, `sorted(key=...)`)
    calling back, whose own progress was not restored; if such a call suspends, the flow could
    never resume right, and the capture refuses it.
    """

    __slots__ = ("frames", "codes", "value", "index", "previous", "caller", "done", "last", "watched", "callbacks", "forward")

    def __init__(self, continuation: Continuation, value: object, codes: list[CodeType | None]) -> None:
        self.frames = continuation.frames
        self.codes = codes
        self.value = value
        self.index = 0
        self.previous: Any = None
        self.caller: FrameType | None = None
        self.done = False
        self.last = len(self.frames) - 1
        #: The restored frames still in the call they made, with the offset of that call.
        self.watched: dict[int, tuple[FrameType, int]] = {}
        #: Frames called back by C code from a watched call.
        self.callbacks: list[FrameType] = []
        #: The local trace function of the previous tracer, for each restored frame that has one.
        self.forward: dict[int, TraceFunction] = {}

    @property
    def expected(self) -> Frame:
        return self.frames[min(self.index, self.last)]

    def call(self, entry: Callable[..., object], args: tuple[object, ...], kw: dict[str, object]) -> object:
        self.previous = sys.gettrace()
        sys.settrace(self.on_call)
        try:
            return entry(*args, **kw)
        finally:
            self.stop()

    def stop(self) -> None:
        if sys.gettrace() is not self.previous:
            sys.settrace(self.previous)
        for frame, _ in self.watched.values():
            frame.f_trace = self.forward.get(id(frame))
        self.watched.clear()

    def from_c_code(self, frames: list[FrameType]) -> bool:
        """Whether a suspension passed through a call made back by C code from a restored call."""
        return any(frame is callback for frame in frames for callback in self.callbacks)

    def called_back(self, frame: FrameType) -> None:
        """Once every frame is restored: `frame` is called back by C code if its caller is a
        restored frame still in the call it was restored at."""
        back = frame.f_back
        watched = self.watched.get(id(back)) if back is not None else None
        if watched is not None and watched[0] is back and back.f_lasti == watched[1]:
            self.callbacks.append(frame)

    def restore(self, frame: FrameType, code: CodeType) -> tuple[int, FrameType | None] | None:
        """If `frame`, just started, is the next frame of the flow: its saved locals written into
        it, the line it jumps to and its caller (watched from now on); None: it runs as usual."""
        module, qualname, fingerprint, lasti, saved = self.frames[self.index]
        expected = self.codes[self.index]
        if expected is not None:
            if code is not expected:
                return None
        elif code.co_qualname != qualname or frame.f_globals.get("__name__") != module:
            return None
        caller = self.caller
        if caller is not None:
            caller_lasti = self.frames[self.index - 1][3]
            if frame.f_back is not caller or caller.f_lasti != caller_lasti:
                return None  # the same function called from elsewhere: runs as usual
            self.watched[id(caller)] = (caller, caller_lasti)  # in its call now: watched until it moves on
        if expected is None and digest(code) != fingerprint:  # found by name: checked before
            self.stop()
            raise CodeChanged(f"{module}.{qualname} changed since the flow suspended")
        target = _points[id(code)] if self.index == self.last else resume_line(code, lasti)
        f_locals = frame.f_locals
        for name in code.co_varnames + code.co_cellvars:
            # Every local bound (None for those unbound when it suspended), or the jump warns.
            f_locals[name] = saved.get(name)
        if _locals_to_fast is not None:
            _locals_to_fast(frame, 0)
        self.caller = frame
        self.index += 1
        return target, caller

    def on_call(self, frame: FrameType, event: str, arg: object) -> TraceFunction | None:
        if event != "call":
            return None
        if self.done:
            self.called_back(frame)
            return None
        restored = self.restore(frame, frame.f_code)
        if restored is None:
            return None
        target, caller = restored
        if caller is not None:
            caller.f_trace = self.on_progress
            caller.f_trace_lines = True
        return self._jumper(target, self.index > self.last)

    def on_progress(self, frame: FrameType, event: str, arg: object) -> TraceFunction | None:
        # Every event goes on to the previous tracer's function for the frame. A watched frame
        # that runs a line, returns or lets an exception through has left its call; when none is
        # watched any more, the previous tracer is put back.
        forward = self.forward.get(id(frame))
        result = forward(frame, event, arg) if forward is not None else None
        if event not in ("line", "return", "exception"):
            return self.on_progress
        self.watched.pop(id(frame), None)
        frame.f_trace = result if forward is not None else None
        if self.done and not self.watched and sys.gettrace() is not self.previous:
            sys.settrace(self.previous)
        return result

    def _jumper(self, target: int, last: bool) -> TraceFunction:
        def jump(frame: FrameType, event: str, arg: object) -> TraceFunction | None:
            if event != "line":
                return None
            frame.f_lineno = target  # type: ignore[misc]  # writable in a trace function
            # The previous tracer (a debugger, coverage) sees the restored frame from here on.
            local = self.previous(frame, "call", None) if self.previous is not None else None
            if local is not None:
                self.forward[id(frame)] = local
            frame.f_trace = local
            frame.f_trace_lines = local is not None
            if last:
                self.done = True
                _slot.answer = self.value
                if not self.watched:
                    sys.settrace(self.previous)
            return local

        return jump


# --- re-entering with sys.monitoring (CPython 3.12 and later) ---------------------------------------
#
# Since PEP 669, `sys.settrace` is built on sys.monitoring and switching it on or off
# re-instruments the code of every frame on the stack, then of every function that runs next:
# 50 µs and more per request. Local events on just the code objects of the flow cost a fraction
# of a microsecond, so where every function of the flow is found by name, the resume uses them:
# PY_START to see the expected function start, LINE to jump in it and to see its caller move on.

_MONITORING: Any = getattr(sys, "monitoring", None)
_TOOL = -1
_here = threading.local()  # the resumer running in this thread (events are process-wide)
_enabled: dict[int, int] = {}  # id(code) -> how many resumes (threads) want its events
_enabled_lock = threading.Lock()

_locals_to_fast: Any = None
if sys.version_info < (3, 13) and _MONITORING is not None:
    import ctypes

    # 3.12's frame.f_locals is a snapshot: written back by the function debuggers use.
    _locals_to_fast = ctypes.pythonapi.PyFrame_LocalsToFast
    _locals_to_fast.argtypes = [ctypes.py_object, ctypes.c_int]
    _locals_to_fast.restype = None


def _monitoring_tool() -> int:
    """A sys.monitoring tool id of our own (the free one among those no other tool uses)."""
    global _TOOL
    if _TOOL < 0:
        monitoring = _MONITORING
        for tool in (5, 4, 3):  # the ids that debuggers, coverage and profilers leave free
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, "nagare flows")
                events = monitoring.events
                monitoring.register_callback(tool, events.PY_START, _on_start)
                monitoring.register_callback(tool, events.LINE, _on_line)
                _TOOL = tool
                break
        else:
            raise ContinuationError("no sys.monitoring tool id is free for the continuation engine")
    return _TOOL


def _on_start(code: CodeType, offset: int) -> None:
    resumer = getattr(_here, "resumer", None)
    if resumer is not None:
        resumer.started(code, sys._getframe(1))


def _on_line(code: CodeType, line: int) -> None:
    resumer = getattr(_here, "resumer", None)
    if resumer is not None:
        resumer.line(sys._getframe(1))


class _MonitoredResumer(_Resumer):
    """The resume with local sys.monitoring events: the same steps and checks as `_Resumer`."""

    __slots__ = ("jumping", "target", "tool", "active")

    def __init__(self, continuation: Continuation, value: object, codes: list[CodeType | None]) -> None:
        super().__init__(continuation, value, codes)
        self.jumping: FrameType | None = None
        self.target = 0
        self.tool = _monitoring_tool()
        self.active: list[CodeType] = []

    def call(self, entry: Callable[..., object], args: tuple[object, ...], kw: dict[str, object]) -> object:
        outer = getattr(_here, "resumer", None)
        _here.resumer = self
        events = _MONITORING.events.PY_START | _MONITORING.events.LINE
        with _enabled_lock:
            for code in {id(code): code for code in self.codes}.values():
                assert code is not None
                count = _enabled.get(id(code), 0)
                if count == 0:
                    _MONITORING.set_local_events(self.tool, code, events)
                _enabled[id(code)] = count + 1
                self.active.append(code)
        try:
            return entry(*args, **kw)
        finally:
            self.stop()
            _here.resumer = outer

    def stop(self) -> None:
        with _enabled_lock:
            for code in self.active:
                left = _enabled[id(code)] = _enabled[id(code)] - 1
                if left == 0:
                    del _enabled[id(code)]
                    _MONITORING.set_local_events(self.tool, code, 0)
        self.active.clear()
        self.watched.clear()

    def started(self, code: CodeType, frame: FrameType) -> None:
        if self.done or self.jumping is not None:
            self.called_back(frame)
            return
        restored = self.restore(frame, code)
        if restored is not None:
            self.target = restored[0]
            self.jumping = frame

    def line(self, frame: FrameType) -> None:
        if frame is self.jumping:
            self.jumping = None
            frame.f_lineno = self.target  # type: ignore[misc]  # writable in a monitoring callback
            if self.index > self.last:
                self.done = True
                _slot.answer = self.value
            return
        if self.watched.pop(id(frame), None) is not None and self.done and not self.watched:
            self.stop()  # every restored frame moved on: no more events


_OWN.update(id(code) for code in (_delimited.__code__, _Resumer.call.__code__, _MonitoredResumer.call.__code__))
