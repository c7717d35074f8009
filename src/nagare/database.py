"""SQLAlchemy in the request cycle, with the names Nagare 0.5 applications use.

    from nagare.database import session, query

    class Page(Base):                 # any SQLAlchemy 2.x declarative model
        __tablename__ = 'page'
        ...

    page = query(Page).filter_by(name='FrontPage').one()   # in an action or a view
    session.add(Page(name='New'))

- `session` is a scoped SQLAlchemy session (one per thread), `query` its `query`. Every request
  runs in one transaction: committed when the request succeeds (just before its state is
  stored), rolled back on an exception or an HTTP error answer (4xx, 5xx), so a failed request
  leaves nothing half-written.
- The `[database]` sections of the application file (`uri`, `metadata`, `populate`, `debug`,
  the engine's pool settings; sub-sections for several databases) bind each metadata to its
  engine when the process starts; in the FastCGI pool each worker opens its own connections
  (the pool is reset after `fork`).
- A mapped object kept in a component is pickled with the page state as its class and primary
  key, and loaded again in the current session on the next request: never a copy of the row,
  never a detached object from another process. An object added but not flushed yet is flushed
  by the commit that comes before the state is stored, so it has its key then; a transient one
  (never added to the session) is an ordinary object and is pickled as one.
- A database that cannot be reached answers 503 with one line in the log; the pool checks its
  connections before use (`pool_pre_ping`), so service resumes by itself.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc, orm
from sqlalchemy.util import ThreadLocalRegistry

from nagare.errors import DatabaseUnavailableError

__all__ = [
    "session",
    "query",
    "set_metadata",
    "engines",
    "transaction",
    "UNAVAILABLE",
    "create_all",
    "drop_all",
]

log = logging.getLogger("nagare.database")

class _Session(orm.Session):
    """With several databases, a statement given with a mapper (`bind_arguments={'mapper': X}`)
    goes to the database of the mapper's table, a text statement included."""

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        if mapper is not None and len(_engines) > 1:
            table = getattr(sa.inspect(mapper), "persist_selectable", None)
            for metadata, engine in _engines.items():
                if table is not None and metadata.tables.get(table.fullname) is table:
                    return engine
        return super().get_bind(mapper=mapper, clause=clause, **kw)


class _Local(threading.local):
    #: the thread's session: None (the class's, for every thread) until the thread asks for one
    value: orm.Session | None = None


class _Registry(ThreadLocalRegistry[orm.Session]):
    """The scoped session's registry: one session per thread, as SQLAlchemy's, but asked whether
    the thread has one without an exception.

    SQLAlchemy's `has()` is a `hasattr` on a thread-local that raises AttributeError inside when
    the thread has no session: the usual answer of a request that never uses the database, asked
    four times a request (the flush after the actions, the commits, the end).
    """

    def __init__(self, createfunc: Callable[[], orm.Session]) -> None:
        self.createfunc = createfunc
        self.registry = _Local()

    def __call__(self) -> orm.Session:
        local = self.registry
        value: orm.Session | None = local.value
        if value is None:
            value = local.value = self.createfunc()
        return value

    def current(self) -> orm.Session | None:
        """The thread's session, None when it has none (none is made)."""
        value: orm.Session | None = self.registry.value
        return value

    def has(self) -> bool:
        return self.registry.value is not None

    def set(self, obj: orm.Session) -> None:
        self.registry.value = obj

    def clear(self) -> None:
        self.registry.value = None


#: The session of the current thread (an SQLAlchemy `scoped_session`).
session: orm.scoped_session[orm.Session] = orm.scoped_session(orm.sessionmaker(class_=_Session))
_registry = session.registry = _Registry(session.session_factory)

#: `session.query`, as Nagare 0.5 named it.
query = session.query

#: The errors that mean the database cannot be reached (503), not that a statement is wrong.
UNAVAILABLE: tuple[type[Exception], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    exc.DisconnectionError,
    DatabaseUnavailableError,
)

# metadata -> engine, for every database of the process
_engines: dict[sa.MetaData, sa.Engine] = {}


def engines() -> dict[sa.MetaData, sa.Engine]:
    """The engine of each metadata bound in this process."""
    return dict(_engines)


def set_metadata(metadata: sa.MetaData, database_uri: str, database_debug: bool = False, engine_settings: dict[str, Any] | None = None) -> sa.Engine:
    """Bind `metadata` to a new engine on `database_uri` (0.5's signature); returns the engine.

    `engine_settings` go to `sqlalchemy.create_engine` (`pool_size`, `pool_timeout`,
    `pool_recycle`, `connect_args`...); `pool_pre_ping` is on unless they say otherwise.
    """
    settings = {"pool_pre_ping": True, **(engine_settings or {})}
    engine = sa.create_engine(database_uri, echo=database_debug, **settings)
    previous = _engines.pop(metadata, None)
    if previous is not None:
        previous.dispose()
    _engines[metadata] = engine
    _bind()
    return engine


def _bind() -> None:
    session.remove()
    if len(_engines) == 1:
        session.configure(bind=next(iter(_engines.values())), binds=None)
    else:
        binds = {table: engine for metadata, engine in _engines.items() for table in metadata.tables.values()}
        session.configure(bind=None, binds=binds)


def reset() -> None:
    """Forget every engine (their connections closed): for tests, and a process that reconfigures."""
    session.remove()
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    session.configure(bind=None, binds=None)


def _after_fork() -> None:
    # A forked worker must not use the connections of its parent: it opens its own.
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork)


def transaction() -> AbstractContextManager[Callable[[bool], None]]:
    """One request's transaction: yields `end(ok)`, which commits (`ok`) or rolls back.

    The work is rolled back if `end` was not called when the block ends (an exception), and the
    session is removed in every case: the next request starts afresh. A request that never used
    the database costs nothing: no session is made for it.
    """
    return _Transaction()


class _Transaction:
    """`transaction()`'s context manager (a class: a generator's costs more, once a request)."""

    __slots__ = ("ended",)

    def __init__(self) -> None:
        self.ended = False

    def __enter__(self) -> Callable[[bool], None]:
        return self.end

    def end(self, ok: bool) -> None:
        if ok:
            commit()
        else:
            _rollback()
        self.ended = True

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if not self.ended:
                _rollback()
        finally:
            if _registry.has():
                session.remove()


def _used() -> orm.Session | None:
    """The request's session if it began a transaction or holds changes (None: nothing to end)."""
    current = _registry.current()
    if current is None:
        return None
    return current if current.in_transaction() or current.new or current.dirty or current.deleted else None


def _rollback() -> None:
    current = _used()
    if current is not None:
        current.rollback()


def flush() -> None:
    """Send the request's changes so far (after its actions: the views see the new keys)."""
    current = _used()
    if current is not None:
        current.flush()


def commit() -> None:
    """Commit the request's work so far (before its state is stored: the objects get their keys)."""
    current = _used()
    if current is not None:
        current.commit()


# --- entities in the page state ---------------------------------------------------------------


def reduce_entity(obj: Any) -> Any:
    """How the session pickler stores a mapped object: its class and primary key, when it has one."""
    state = sa.inspect(obj)
    if state.key is None:
        if state.pending:
            session.flush()  # added in this request: it gets its key now
        if state.key is None:
            return NotImplemented  # transient: an ordinary object
    return _load_entity, (type(obj), state.key[1])


def _load_entity(cls: type, identity: tuple[Any, ...]) -> Any:
    """The object of class `cls` and primary key `identity` in the current session (None: gone)."""
    try:
        return session.get(cls, identity)
    except UNAVAILABLE as exc:  # not a state that no longer loads: a database that is down
        raise DatabaseUnavailableError(str(getattr(exc, "orig", exc)).strip().splitlines()[0]) from exc


# --- create-db, drop-db ----------------------------------------------------------------------------


def create_all(metadata: sa.MetaData, engine: sa.Engine, drop: bool = False) -> None:
    """Create the tables of `metadata` (dropped first with `drop`)."""
    if drop:
        metadata.drop_all(engine)
    metadata.create_all(engine)


def drop_all(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """Drop the tables of `metadata`."""
    metadata.drop_all(engine)
