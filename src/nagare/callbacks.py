"""The registry of the actions a rendered page can trigger.

Every `.action()` of the renderer registers a callable here and gets back the name of the
request parameter that triggers it: `_action<priority digit><digits>`. The registry is pickled
with the component tree, so a later request on the same state finds the callables again.

Priorities order the calls of one request, as in Nagare 0.5: a form's `pre_action`, the values
of its fields, the radio button chosen, its `post_action`, then the button (or link) that sent
it, an image input last. Within one priority the order of the request is kept.

A radio button's callback id is its `value` (its `name` groups the buttons): any request
parameter whose value is the id of a radio callback triggers it (`parse`).

Permissions: a callback registered with `permissions` (and a `subject`) is checked before it is
called, by the `check(permissions, subject)` that the application hands to `run()`/`process()`;
a check refuses by raising (an HTTP 403, say), and the callback is then not called.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeAlias, TypedDict, cast

from nagare.flow.engine import run as run_flow

if TYPE_CHECKING:
    from webob import Request, Response

    from nagare.types import Action

PRE_ACTION = 0  #: a form's `pre_action`, before any value
VALUE = 1  #: an input, a textarea, a select: called with the submitted value
RADIO = 2  #: a radio button: its id is the value submitted under the group's name
POST_ACTION = 3  #: a form's `post_action`: after the values, before the button that sent the form
LINK = 4  #: a link or an `<img>` source
SUBMIT = 4  #: a submit button, after every value of the form
IMAGE = 5  #: an image input: called with (False, x), then (True, y)

_NAME = re.compile(r"_action(\d)(\d+)(?:\.([xy]))?$")
_RADIO_ID = re.compile(rf"_action({RADIO}\d+)$")

#: An action named in a request: (priority, key, kind, values), see `Callbacks.parse`.
ParsedAction = tuple[int, str, str, list[object]]

#: `check(permissions, subject)`: refuses a callback registered with permissions by raising.
PermissionCheck = Callable[[object, object], object]

#: A registered callback: the callable alone (no request, no permissions: the usual action, a
#: tuple less to pickle in every state), (callable, with_request), or with (permissions,
#: subject) after them.
Entry: TypeAlias = "Action | tuple[Action, bool] | tuple[Action, bool, object, object]"


class _State(TypedDict):
    callbacks: dict[str, Entry]
    next: int


class Callbacks:
    """Callables of one state, by id; ids are unique within the state, even across XHR updates."""

    def __init__(self) -> None:
        self._callbacks: dict[str, Entry] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._callbacks)

    def register(
        self,
        priority: int,
        callback: Action,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
    ) -> str:
        """Keep `callback` and return the parameter name that triggers it.

        With `with_request`, the callable receives the WebOb request and response after the
        arguments bound to it and before the value. With `permissions` (not None), `run()`
        checks `(permissions, subject)` before calling it.
        """
        if not 0 <= priority <= 9:
            raise ValueError(f"callback priority must be a digit, not {priority!r}")
        self._next += 1
        # The priority is part of the key: a request naming the id with another priority (a
        # value action as a link, without its value) finds nothing.
        key = f"{priority}{self._next:05d}"
        # The short entries for the usual cases: every state pickles one per action.
        if permissions is not None:
            self._callbacks[key] = (callback, with_request, permissions, subject)
        elif with_request or isinstance(callback, tuple):  # (a tuple would read as an entry)
            self._callbacks[key] = (callback, with_request)
        else:
            self._callbacks[key] = callback
        return "_action" + key

    def clear(self) -> None:
        """Forget every callable (a new full-page rendering registers them again)."""
        self._callbacks.clear()

    def __getstate__(self) -> _State:
        return {"callbacks": self._callbacks, "next": self._next}

    def __setstate__(self, state: _State) -> None:
        self._callbacks = state["callbacks"]
        self._next = state["next"]

    @staticmethod
    def parse(params: Iterable[tuple[str, object]]) -> list[ParsedAction]:
        """The actions named in request parameters, as (priority, key, kind, values), sorted.

        `key` is what follows `_action` (the priority digit and the number). `kind` is '' for a
        plain parameter, 'image' for the `.x`/`.y` pair an image input sends (its values:
        `(False, x)`, `(True, y)`, integers; other coordinates are dropped) and 'radio' for a
        radio callback id sent as a value (no values). Values of the same parameter are grouped
        in the order they came.
        """
        found: dict[str, ParsedAction] = {}
        order: list[str] = []
        for name, value in params:
            # a multipart part without a name comes as None: nothing to run, not a 500
            match = _NAME.match(name) if name.__class__ is str else None
            if match is None:
                # Only the ids of radio callbacks: a field typed "_action1..." must not trigger
                # a value callback without its value.
                if value.__class__ is str and value.startswith("_action"):
                    radio = _RADIO_ID.match(value)
                    if radio is not None and radio.group(1) not in found:
                        found[radio.group(1)] = (RADIO, radio.group(1), "radio", [])
                        order.append(radio.group(1))
                continue
            digit, axis = match.group(1), match.group(3)
            priority, key = int(digit), digit + match.group(2)
            if (priority == IMAGE) != bool(axis):
                # An image input is named by its coordinates only (a browser may add its bare
                # name); coordinates name nothing else.
                continue
            entry = found.get(key)
            if entry is None:
                entry = found[key] = (priority, key, "image" if axis else "", [])
                order.append(key)
            if axis:
                coordinate = _coordinate(value)
                if coordinate is not None:
                    entry[3].append((axis == "y", coordinate))
            else:
                entry[3].append(value)
        actions = (found[key] for key in order)
        # sorted() is stable: within one priority, the order of the request is kept.
        return sorted(actions, key=lambda action: action[0])

    def process(
        self,
        params: Iterable[tuple[str, object]],
        request: Request | None = None,
        response: Response | None = None,
        check: PermissionCheck | None = None,
    ) -> list[object]:
        """Call the actions named in `params`, in priority order; return what they returned."""
        return self.run(self.parse(params), request, response, check)

    def run(
        self,
        actions: Iterable[ParsedAction],
        request: Request | None = None,
        response: Response | None = None,
        check: PermissionCheck | None = None,
    ) -> list[object]:
        """Call the `actions` found by `parse()`; return what they returned.

        A value action (priority 1) gets the submitted value: a string, a list when several values
        came, or the uploaded file object ('' for a file field left empty). An image input is
        called twice, with `(False, x)` then `(True, y)`; others are called with no value.
        Unknown ids are skipped: they come from an older page of the same state.

        `check(permissions, subject)` runs before each callback registered with permissions;
        without `check`, permissions are not checked.
        """
        results = []
        callbacks = self._callbacks
        for priority, key, kind, values in actions:
            entry = callbacks.get(key)
            if entry is None:
                continue
            if isinstance(entry, tuple):
                callback, with_request = entry[0], entry[1]
                if check is not None and len(entry) == 4:
                    check(entry[2], entry[3])
            else:
                callback, with_request = entry, False
            args: tuple[object, ...] = (request, response) if with_request else ()
            # Each callback runs as a flow (`flow.engine.run`): a comp.call() in it suspends it.
            if kind == "image":
                for is_y, coordinate in sorted(cast("list[tuple[bool, int]]", values)):  # x first, as 0.5 does
                    results.append(run_flow(callback, (*args, is_y, coordinate)))
            elif priority == VALUE and kind == "":
                value = values[0] if len(values) == 1 else values
                if value.__class__ is bytes and not value:
                    value = ""  # WebOb 1.8 gives b'' for an empty file field; Nagare 0.5 gave ''
                results.append(run_flow(callback, (*args, value)))
            else:
                results.append(run_flow(callback, args))
        return results


def _coordinate(value: object) -> int | None:
    """A coordinate of an image input: an integer, or None when the browser sent something else."""
    # isascii(): int() refuses other digits that isdigit() accepts ('²')
    if value.__class__ is str and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    return None
