"""The import-time normaliser of `Task.go` and `@resumable` functions: ordinary Python resumes there.

A suspended flow resumes by jumping to the start of the statement that called, which CPython
allows only where nothing is on the value stack. Three things written every day are not such
places, and the normaliser rewrites them once, when the class or function is defined:

- a `for` loop around a call becomes a `while` loop over an iterator held in a local (list,
  tuple, range, dict, zip and enumerate iterators pickle with their position);
- a statement holding several suspending calls becomes one statement per call, in the order
  they run (`players = (comp.call(Ask('1')), comp.call(Ask('2')))`);
- a `while` condition holding a call is evaluated at the top of a `while True` loop.

What can never resume (a call inside `with`, `except`, `finally`, a comprehension, a lambda,
`and`/`or`, a conditional expression) is refused with a `SyntaxError` naming the file and line.

A call is seen as suspending when it is `<anything>.call(...)`, or calls a function of the same
module marked `@resumable`. The rewritten function keeps its name and qualified name; its source,
as it runs, is registered in `linecache` under `<file> (normalised <qualname>)`, so that
tracebacks show what runs.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import textwrap
from collections.abc import Callable
from types import CodeType, FunctionType
from typing import Any, TypeVar, cast

from nagare.flow.analysis import UnsupportedSuspension, blocker, normalised_files, parents, scope_parents

__all__ = ["normalise", "resumable", "NORMALISED"]

F = TypeVar("F", bound=Callable[..., Any])

#: Set on every function the normaliser has seen (rewritten or not).
NORMALISED = "_nagare_normalised"
#: Set by `@resumable`: calls to these functions suspend.
RESUMABLE = "_nagare_resumable"

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def resumable(f: F) -> F:
    """Mark `f` as a function whose code may suspend (call `comp.call()`), and normalise it.

    In a `@resumable` function, as in `Task.go`, ordinary Python resumes (`for` loops, several
    calls in one statement); the calls to it from `Task.go` and other `@resumable` functions
    are seen as suspending.
    """
    setattr(f, RESUMABLE, True)
    return normalise(f)


def normalise(f: F) -> F:
    """Rewrite `f`'s code in place so that every suspending call in it can resume; return `f`."""
    function = inspect.unwrap(f)
    if not isinstance(function, FunctionType) or getattr(function, NORMALISED, False):
        return f
    setattr(function, NORMALISED, True)
    code = function.__code__
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR):
        raise UnsupportedSuspension(
            f"cannot be used in {code.co_qualname}: a generator or coroutine cannot be resumed",
            code.co_filename,
            code.co_firstlineno,
        )
    try:
        lines, first = inspect.getsourcelines(function)
    except (OSError, TypeError):
        return f  # no source (an interactive session): the capture still refuses what cannot resume
    tree = ast.parse(textwrap.dedent("".join(lines)))
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        return f
    ast.increment_lineno(tree, first - 1)
    rewriter = _Rewriter(_resumable_names(code.co_filename), code.co_filename)
    node.decorator_list = []
    _refuse(node, rewriter, code.co_filename, written=True)  # lambdas, comprehensions: as written
    changed = rewriter.function(node)
    _refuse(node, rewriter, code.co_filename, written=False)
    if changed:
        function.__code__ = _compile(node, code, function)
        function.__globals__.setdefault("_nagare_iter", builtins.iter)
        function.__globals__.setdefault("_nagare_next", builtins.next)
    return f


def _resumable_names(filename: str) -> set[str]:
    """The names of the functions of a module marked `@resumable`, read from its source."""
    try:
        tree = ast.parse("".join(linecache.getlines(filename)))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                name = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(decorator, "id", None)
                if name == "resumable":
                    names.add(node.name)
    return names


class _Rewriter:
    def __init__(self, resumable_names: set[str], filename: str) -> None:
        self.resumable_names = resumable_names
        self.filename = filename
        self.counter = 0
        self.calls: list[ast.Call] = []  # every suspending call of the function, for the checks

    def suspends(self, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr == "call" or func.attr in self.resumable_names
        return isinstance(func, ast.Name) and func.id in self.resumable_names

    def calls_in(self, node: ast.AST, lambdas: bool = False) -> list[ast.Call]:
        """The suspending calls in `node`, in the order they run (inner ones first), not in nested
        functions and classes (nor in lambdas, unless `lambdas`)."""
        found: list[ast.Call] = []
        scopes = _SCOPES[:-1] if lambdas else _SCOPES

        def visit(n: ast.AST) -> None:
            if isinstance(n, scopes) and n is not node:
                return
            if isinstance(n, ast.Assign):
                visit(n.value)
                for target in n.targets:
                    visit(target)
                return
            for child in ast.iter_child_nodes(n):
                visit(child)
            if self.suspends(n):
                found.append(n)  # type: ignore[arg-type]

        visit(node)
        return found

    def temp(self, kind: str) -> str:
        self.counter += 1
        return f"_nagare_{kind}{self.counter}"

    def function(self, node: ast.FunctionDef) -> bool:
        self.calls = self.calls_in(node)
        before = ast.dump(node)
        node.body = self.block(node.body)
        return ast.dump(node) != before

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in statements:
            result.extend(self.statement(statement))
        return result

    def statement(self, node: ast.stmt) -> list[ast.stmt]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [node]
        if isinstance(node, ast.For) and self.calls_in(ast.Module(body=node.body + node.orelse, type_ignores=[])):
            return self.for_loop(node)
        if isinstance(node, ast.While) and self.calls_in(node.test):
            return self.while_loop(node)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, field, self.block(block))
        if isinstance(node, (ast.Try, ast.TryStar)):
            for handler in node.handlers:
                handler.body = self.block(handler.body)
        if isinstance(node, ast.Match):
            for case in node.cases:
                case.body = self.block(case.body)
        return self.split(node)

    def split(self, node: ast.stmt) -> list[ast.stmt]:
        """One statement per suspending call, when `node` (its own expressions) holds several."""
        header = _header(node)
        calls = [c for part in header for c in self.calls_in(part)]
        if len(calls) < 2:
            return [node]
        hoisted: list[ast.stmt] = []
        replaced: dict[int, ast.Name] = {}
        for call in calls:  # inner calls first: each outer one reads the temporaries of its inner ones
            name = self.temp("t")
            value = cast("ast.expr", _Substitute(replaced).generic_visit(call))
            hoisted.append(ast.copy_location(ast.Assign(targets=[ast.Name(name, ast.Store())], value=value), call))
            replaced[id(call)] = ast.Name(name, ast.Load())
        _Substitute(replaced).generic_visit(node)
        return [*hoisted, node]

    def for_loop(self, node: ast.For) -> list[ast.stmt]:
        if any(isinstance(n, (ast.Break, ast.Continue)) for s in node.orelse for n in _same_loop(s)):
            raise UnsupportedSuspension(
                "in a for loop with break or continue in its else block: write the loop with while",
                self.filename,
                node.lineno,
            )
        it, value = self.temp("it"), self.temp("v")
        start = ast.Assign(targets=[store(it)], value=ast.Call(load("_nagare_iter"), [node.iter], []))
        step = ast.Assign(targets=[store(value)], value=ast.Call(load("_nagare_next"), [load(it), load(it)], []))
        end = ast.If(
            test=ast.Compare(load(value), [ast.Is()], [load(it)]),
            body=[*self.block(node.orelse), ast.Break()],
            orelse=[],
        )
        bind = ast.Assign(targets=[node.target], value=load(value))
        loop = ast.While(test=ast.Constant(True), body=[step, end, bind, *self.block(node.body)], orelse=[])
        cleanup = ast.Delete(targets=[store(it), store(value)])
        for n in (start, step, end, bind, loop, cleanup):
            ast.copy_location(n, node)
        ast.fix_missing_locations(loop)
        return [*self.split(start), loop, cleanup]

    def while_loop(self, node: ast.While) -> list[ast.stmt]:
        if node.orelse:
            raise UnsupportedSuspension(
                "in the condition of a while loop with an else block: assign the answer before the loop",
                self.filename,
                node.lineno,
            )
        test = ast.If(test=ast.UnaryOp(ast.Not(), node.test), body=[ast.Break()], orelse=[])
        ast.copy_location(test, node)
        loop = ast.While(test=ast.Constant(True), body=[*self.split(test), *self.block(node.body)], orelse=[])
        ast.copy_location(loop, node)
        ast.fix_missing_locations(loop)
        return [loop]


def _header(node: ast.stmt) -> list[ast.AST]:
    """The expressions a statement evaluates itself (not those of the blocks it holds)."""
    blocks = {"body", "orelse", "finalbody", "handlers", "cases"}
    return [value for field, value in ast.iter_fields(node) if field not in blocks and isinstance(value, ast.AST)] + [
        item for field, value in ast.iter_fields(node) if field not in blocks and isinstance(value, list) for item in value if isinstance(item, ast.AST)
    ]


def _same_loop(node: ast.AST) -> list[ast.AST]:
    """The nodes of `node` that belong to the loop around it (not to inner loops or scopes)."""
    found = [node]
    if isinstance(node, (ast.For, ast.While, ast.AsyncFor, *_SCOPES)):
        return found
    for child in ast.iter_child_nodes(node):
        found.extend(_same_loop(child))
    return found


def load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def store(name: str) -> ast.Name:
    return ast.Name(name, ast.Store())


class _Substitute(ast.NodeTransformer):
    def __init__(self, replaced: dict[int, ast.Name]) -> None:
        self.replaced = replaced

    def visit(self, node: ast.AST) -> Any:
        name = self.replaced.get(id(node))
        if name is not None:
            return ast.copy_location(ast.Name(name.id, ast.Load()), node)
        return super().visit(node)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, old in ast.iter_fields(node):
            if isinstance(old, list):
                setattr(node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in old])
            elif isinstance(old, ast.AST):
                setattr(node, field, self.visit(old))
        return node


def _refuse(function: ast.FunctionDef, rewriter: _Rewriter, filename: str, written: bool) -> None:
    """A `SyntaxError` for the first suspending call of the function that cannot resume.

    `written`: the function as written, before the rewrite (the `for` loops and `while`
    conditions it rewrites are not refused then); else the function rewritten.
    """
    parent_of = parents(function)
    for call in rewriter.calls_in(function, lambdas=True):
        if call not in parent_of:
            continue
        for child, parent in scope_parents(call, parent_of, function):
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                break  # a nested function: not normalised, its capture checks it
            if written and (
                (isinstance(parent, ast.For) and child in parent.body) or (isinstance(parent, ast.While) and child is parent.test)
            ):
                continue
            reason = blocker(child, parent, normalised=True)
            if reason is not None:
                line = getattr(child, "lineno", call.lineno)
                text = linecache.getline(filename, line) or None
                raise UnsupportedSuspension(reason, filename, line, text)


def _compile(node: ast.FunctionDef, code: CodeType, function: FunctionType) -> CodeType:
    filename = f"{code.co_filename} (normalised {code.co_qualname})"
    free = code.co_freevars
    text = ast.unparse(node)
    if free:
        # Free variables (super()'s __class__, a closure's names) need an enclosing function.
        body = textwrap.indent(text, "    ")
        text = f"def _nagare_factory({', '.join(free)}):\n{body}\n    return {node.name}\n"
    # Start at the function's line in its file, so that the lines read as close as can be.
    padding = max(code.co_firstlineno - (2 if free else 1), 0)
    source = "\n" * padding + text + "\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module_code = compile(source, filename, "exec", dont_inherit=True)
    new = _find_code(module_code, node.name, free)
    if new.co_freevars != free:
        raise UnsupportedSuspension(
            f"cannot be normalised in {code.co_qualname}: its closure changed shape ({new.co_freevars} for {free})",
            code.co_filename,
            code.co_firstlineno,
        )
    normalised_files[filename] = (code.co_filename, _line_map(node, source, node.name, bool(free)))
    return new.replace(co_name=code.co_name, co_qualname=code.co_qualname)


def _line_map(node: ast.FunctionDef, source: str, name: str, nested: bool) -> dict[int, int]:
    """For each line of the rewritten source, the line of the file its statement comes from."""
    tree = ast.parse(source)
    top = tree.body[0]
    rewritten = next(n for n in ast.walk(top) if isinstance(n, ast.FunctionDef) and n.name == name) if nested else top
    lines: dict[int, int] = {}
    for new, old in zip(ast.walk(rewritten), ast.walk(node)):
        new_line, old_line = getattr(new, "lineno", None), getattr(old, "lineno", None)
        if new_line is not None and old_line is not None:
            lines.setdefault(new_line, old_line)
    return lines


def _find_code(module_code: CodeType, name: str, free: tuple[str, ...]) -> CodeType:
    consts = [c for c in module_code.co_consts if isinstance(c, CodeType)]
    if free:
        consts = [c for c in consts[0].co_consts if isinstance(c, CodeType)]
    return next(c for c in consts if c.co_name == name)
