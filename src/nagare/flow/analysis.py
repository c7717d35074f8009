"""Where a suspended call can resume: the statement around it, and the constructs that forbid it.

A flow resumes by re-entering its functions and jumping, in each, to the start of the statement
that made the call (`frame.f_lineno`): CPython allows that jump only where the value stack is
empty, so not into a `for` body (the iterator is on the stack), a `with` block, an `except` or
`finally` block. Other constructs would resume but not as written (the right side of `and`/`or`,
a comprehension, a lambda). Both the import-time normaliser and the capture of a running flow
ask this module, so that both refuse the same things with the same words.
"""

from __future__ import annotations

import ast
import inspect
import linecache
from collections.abc import Iterator
from dataclasses import dataclass
from types import CodeType

#: Code flags of the functions whose frames cannot be re-entered by calling them again.
_NOT_REENTRANT = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE

_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class UnsupportedSuspension(SyntaxError):
    """A `comp.call()` where the flow could never resume: raised at the call, or at import.

    A `SyntaxError` so that it reads as one (file and line) at import; raised at run time it names
    the same place.
    """

    def __init__(self, reason: str, filename: str, lineno: int, text: str | None = None) -> None:
        # A place in a normalised function is named in the file it was written in.
        original, lines = normalised_files.get(filename, (filename, {}))
        lineno = lines.get(lineno, lineno)
        if text is None:
            text = linecache.getline(original, lineno).rstrip("\n") or None
        super().__init__(f"comp.call() {reason}", (original, lineno, None, text))
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.msg} ({self.filename}, line {self.lineno})"


def blocker(node: ast.AST, parent: ast.AST, *, normalised: bool) -> str | None:
    """Why a suspending call inside `node`, a child of `parent`, cannot resume (None: it can)."""
    if isinstance(parent, ast.Lambda):
        return "inside a lambda cannot resume"
    if isinstance(parent, _COMPREHENSIONS):
        return "inside a comprehension cannot resume (write a loop)"
    if isinstance(parent, ast.BoolOp) and node is not parent.values[0]:
        return "on the right side of and/or cannot resume (assign the answer first)"
    if isinstance(parent, ast.IfExp) and node is not parent.test:
        return "inside a conditional expression cannot resume (write an if statement)"
    if isinstance(parent, (ast.Await, ast.Yield, ast.YieldFrom)):
        return "inside await or yield cannot resume"
    if isinstance(parent, (ast.With, ast.AsyncWith)):
        return "inside a with block cannot resume (the block's __exit__ would run at the call)"
    if isinstance(parent, ast.ExceptHandler):
        return "inside an except block cannot resume"
    if isinstance(parent, (ast.Try, ast.TryStar)):
        if node in parent.finalbody:
            return "inside a finally block cannot resume"
        if parent.finalbody and (node in parent.body or node in parent.orelse):
            return "inside a try with a finally cannot resume (the finally would run at the call)"
        if node in parent.body and any(_catches_everything(h) for h in parent.handlers):
            return "inside a try with a bare except or except BaseException cannot resume"
    if isinstance(parent, (ast.For, ast.AsyncFor)) and node in parent.body:
        if isinstance(parent, ast.AsyncFor):
            return "inside an async for loop cannot resume"
        if normalised:
            return "inside a for loop cannot resume: the normaliser did not see this call suspend (mark the function it calls @resumable)"
        return "inside a for loop cannot resume (use while, or mark the function @resumable)"
    if isinstance(parent, ast.While) and node is parent.test and not normalised:
        return "in a while condition cannot resume (assign the answer first, or mark the function @resumable)"
    return None


def _catches_everything(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id == "BaseException" for n in names)


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node of `tree` mapped to its parent."""
    result: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            result[child] = parent
    return result


def scope_parents(node: ast.AST, parent_of: dict[ast.AST, ast.AST], top: ast.AST) -> Iterator[tuple[ast.AST, ast.AST]]:
    """The (node, parent) pairs from `node` up to `top`, the function."""
    while node is not top:
        parent = parent_of[node]
        yield node, parent
        node = parent


@dataclass(frozen=True)
class Source:
    """A function's syntax tree, with the line numbers of the file it runs from."""

    tree: ast.AST  # the FunctionDef, AsyncFunctionDef or Lambda
    parent_of: dict[ast.AST, ast.AST]
    normalised: bool


# Keyed by id(): hashing a code object hashes its whole contents, at every lookup (2 µs for a
# long function on 3.12). The entry keeps the code object alive, so its id is not reused.
_sources: dict[int, tuple[CodeType, Source | None]] = {}
#: Filled by the normaliser: the pseudo file name of each function it rewrote, with the file it
#: was written in and, for each line of the rewritten source, the line it comes from.
normalised_files: dict[str, tuple[str, dict[int, int]]] = {}


def source_of(code: CodeType) -> Source | None:
    """The syntax tree of `code`'s function, from linecache; None when the source is not there."""
    entry = _sources.get(id(code))
    if entry is not None and entry[0] is code:
        return entry[1]
    source = _parse(code)
    _sources[id(code)] = (code, source)
    return source


def _parse(code: CodeType) -> Source | None:
    lines = linecache.getlines(code.co_filename)
    first = code.co_firstlineno
    if not lines or first > len(lines):
        return None
    try:
        block = inspect.getblock(lines[first - 1 :])
        text = "".join(block)
        indented = text[:1] in (" ", "\t")
        # Keep the columns: co_positions counts them in the file, as ast does.
        tree = ast.parse("if 1:\n" + text if indented else text)
    except (SyntaxError, IndentationError, inspect.EndOfBlock, ValueError):
        return None
    offset = first - 1 - (1 if indented else 0)
    ast.increment_lineno(tree, offset)
    function = next(
        (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))),
        None,
    )
    if function is None:
        return None
    return Source(function, parents(function), code.co_filename in normalised_files)


def call_node(source: Source, position: tuple[int | None, int | None, int | None, int | None]) -> ast.Call | None:
    """The call expression at `position` (line, end line, column, end column) of the code."""
    line, end_line, col, end_col = position
    best: ast.Call | None = None
    for node in ast.walk(source.tree):
        if not isinstance(node, ast.Call):
            continue
        if (node.lineno, node.end_lineno, node.col_offset, node.end_col_offset) == (line, end_line, col, end_col):
            return node
        if line is not None and node.lineno <= line and (node.end_lineno or node.lineno) >= (end_line or line):
            best = node if best is None or node.lineno >= best.lineno else best
    return best


_resume_lines: dict[tuple[int, int], tuple[CodeType, int]] = {}  # (id(code), lasti) -> (code, line)


def resume_line(code: CodeType, lasti: int) -> int:
    """The line to jump to in `code` to make the call at instruction offset `lasti` again.

    It is the first line of the statement holding the call. `UnsupportedSuspension` when the call
    can never resume there.
    """
    key = (id(code), lasti)
    entry = _resume_lines.get(key)
    if entry is not None and entry[0] is code:
        return entry[1]
    line = _resume_line(code, lasti)
    _resume_lines[key] = (code, line)
    return line


def _resume_line(code: CodeType, lasti: int) -> int:
    positions = list(code.co_positions())
    position = positions[lasti // 2] if lasti // 2 < len(positions) else (None, None, None, None)
    call_line = position[0] if position[0] is not None else code.co_firstlineno
    where = (code.co_filename, call_line)
    if code.co_name.startswith("<") and code.co_name != "<module>":
        kind = code.co_name.strip("<>")
        raise UnsupportedSuspension(f"inside a {kind} cannot resume", *where)
    if code.co_flags & _NOT_REENTRANT:
        raise UnsupportedSuspension("inside a generator or a coroutine cannot resume", *where)
    source = source_of(code)
    if source is None:
        return call_line  # no source: the jump itself says so at resume if it cannot be made
    node = call_node(source, position)
    if node is None:
        return call_line
    statement: ast.stmt | None = None
    for child, parent in scope_parents(node, source.parent_of, source.tree):
        if statement is None and isinstance(child, ast.stmt):
            statement = child
        reason = blocker(child, parent, normalised=source.normalised)
        if reason is not None:
            raise UnsupportedSuspension(reason, code.co_filename, getattr(child, "lineno", call_line))
    if statement is None:
        return call_line
    start = statement.lineno
    for other in ast.walk(source.tree):
        if isinstance(other, ast.stmt) and other is not statement and other.lineno == start and other.col_offset < statement.col_offset:
            if not _contains(other, statement):
                raise UnsupportedSuspension("in a statement that does not start its line cannot resume (one statement per line)", *where)
    return start


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(node is inner for node in ast.walk(outer))
