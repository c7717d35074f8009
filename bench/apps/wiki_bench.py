"""The demo's Wiki tab, as bench/database.py serves it: with its database, and with its text in memory.

Both are the demo itself (`nagare.demo.app.Demo`, the wiki tab's views and components as they
are), served by a `DemoApp` that also counts, per worker process, the requests it answered and
what they asked of the database:

- `database`: the demo with its `[database]` section pointed at the bench's PostgreSQL (the
  application file bench/database.py writes). `DemoApp.start` makes the tables and the first pages.
- `memory`: the same demo, the same views, with no `[database]`: at start the wiki's two reads are
  pointed at a dict of `MemoryPage`s with the same texts (`wiki.find`, the page by key, and the
  `session.scalars` of the WikiWords that exist), and `has_database()` answers True. A
  `MemoryPage` in the page state is pickled as a lookup by its name, as an entity is pickled as its
  class and key.

The counts: SQLAlchemy's `before_cursor_execute` (each statement sent) and the pool's `checkout`
(each a `pool_pre_ping` round trip, a `SELECT 1` the event does not see), listened on every
engine. Each worker writes `requests queries checkouts` over its own file
`$NAGARE_BENCH_COUNTS/<pid>` after every request (one `pwrite`, the same in both applications),
which the bench reads before and after each run. A worker forked from the master starts again
from zero (the master's start-up queries are not the workers').
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, pool

from nagare.demo import app as demo
from nagare.demo import wiki

_counts = [0, 0, 0]  # requests, statements, checkouts of this process
_owner = [0, -1]  # pid the counts belong to, its file descriptor


@event.listens_for(sa.Engine, "before_cursor_execute")
def _statement(*args: Any) -> None:
    _counts[1] += 1


@event.listens_for(pool.Pool, "checkout")
def _checkout(*args: Any) -> None:
    _counts[2] += 1


def _mine() -> None:
    """A forked worker: counts from zero, in a file of its own."""
    pid = os.getpid()
    if _owner[0] != pid:
        _owner[0] = pid
        _counts[:] = [0, 0, 0]
        folder = os.environ.get("NAGARE_BENCH_COUNTS")
        _owner[1] = os.open(os.path.join(folder, str(pid)), os.O_WRONLY | os.O_CREAT, 0o644) if folder else -1


class CountingDemoApp(demo.DemoApp):
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        _mine()
        answer = super().__call__(environ, start_response)
        _counts[0] += 1
        if _owner[1] >= 0:
            os.pwrite(_owner[1], ("%d %d %d\n" % tuple(_counts)).ljust(40).encode(), 0)
        return answer


# --- the wiki with its text in memory --------------------------------------------------------


class MemoryPage:
    """A page of the wiki in memory: what the views read of a `wiki.Page`."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.modified = datetime.datetime(2026, 12, 1, 12, 0)

    def __reduce__(self) -> tuple[Any, ...]:
        return find, (self.name,)  # as an entity: its key, read again at the next request


PAGES = {wiki.FRONT_PAGE: MemoryPage(wiki.FRONT_PAGE, wiki.FRONT_TEXT), "NagareWiki": MemoryPage("NagareWiki", wiki.SECOND_TEXT)}


def find(name: str) -> MemoryPage | None:
    return PAGES.get(name)


class MemorySession:
    """What the wiki's views ask of `nagare.database.session`, answered from `PAGES`."""

    def scalars(self, statement: Any) -> list[str]:
        # the view's `select(Page.name).where(Page.name.in_(words))`: the names of `words` that exist
        words = statement.whereclause.right.value
        return [name for name in words if name in PAGES]

    def get(self, cls: type, name: str) -> MemoryPage | None:
        return find(name)


class MemoryDemoApp(CountingDemoApp):
    def start(self) -> None:
        super().start()
        wiki.find = find  # type: ignore[assignment]
        wiki.session = MemorySession()  # type: ignore[assignment]
        wiki.has_database = lambda: True


database = CountingDemoApp(demo.Demo)
memory = MemoryDemoApp(demo.Demo)
