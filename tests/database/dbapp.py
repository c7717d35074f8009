"""The fixture application of the database tests, written as a Nagare 0.5 application is.

Its models are classic SQLAlchemy declarative classes on two metadata: `metadata` (the notes) and
`archive_metadata` (an archive of entries), so that an application file can put them on one
database or on two ([database] sub-sections). `populate` and `populate_archive` fill new
databases (`nagare-admin create-db`).

The page keeps the note it created in its state (an entity: pickled as its class and key), and
has actions that write, change, fail and refuse. It shows the pid of the process that rendered it
and, on PostgreSQL, the backend pid of the connection the request used: the FastCGI test tells
the workers' connections apart with them. `App.start` (run in the FastCGI master, before the
workers fork) uses a connection and leaves it in the pool, and writes its backend pid to the log:
a worker that inherited that connection would show the same backend pid.

`/dbapp/slow` renders after `pg_sleep(0.4)`: concurrent requests keep several workers busy at once.
"""

import os
import sys

import sqlalchemy as sa
from sqlalchemy import orm
from webob import exc

from nagare import presentation, wsgi
from nagare.database import query, session

Base = orm.declarative_base()
metadata = Base.metadata

ArchiveBase = orm.declarative_base()
archive_metadata = ArchiveBase.metadata


class Note(Base):
    __tablename__ = 'note'
    id = sa.Column(sa.Integer, primary_key=True)
    title = sa.Column(sa.String(80), nullable=False)


class Entry(ArchiveBase):
    __tablename__ = 'entry'
    id = sa.Column(sa.Integer, primary_key=True)
    text = sa.Column(sa.String(80), nullable=False)


def populate():
    session.add_all([Note(title='welcome'), Note(title='read me')])


def populate_archive():
    session.add(Entry(text='archive opened'))


def archived():
    """Whether the archive's metadata is bound in this process (a [database] of its own)."""
    from nagare import database

    return archive_metadata in database.engines()


def notes_connection():
    """The connection of this request's transaction on the notes' database."""
    return session.connection(bind_arguments={'mapper': Note})


def backend_pid():
    """The PostgreSQL backend of this request's connection (None on another database)."""
    if session.get_bind(Note).dialect.name != 'postgresql':
        return None
    return notes_connection().execute(sa.text('select pg_backend_pid()')).scalar()


class Root(object):
    def __init__(self):
        self.note = None  # an entity, once created
        self.slow = False

    def add(self, title):
        self.note = Note(title=title)
        session.add(self.note)

    def rename(self, title):
        self.note.title = title

    def boom(self):
        session.add(Note(title='boom'))
        raise RuntimeError('boom')

    def refuse(self):
        session.add(Note(title='refused'))
        raise exc.HTTPForbidden()

    def both(self):
        self.note = Note(title='with an entry')
        session.add_all([self.note, Entry(text='note added')])

    def both_boom(self):
        session.add_all([Note(title='half'), Entry(text='half')])
        session.flush()  # both written in their transactions, then the action fails
        raise RuntimeError('both boom')


@presentation.render_for(Root)
def render(self, h, comp, *args):
    if self.slow:
        notes_connection().execute(sa.text('select pg_sleep(0.4)'))
    h.head << h.head.title('Notes')
    h << h.span(str(os.getpid()), id='pid')
    h << h.span(str(backend_pid()), id='backend')
    h << h.a('add', id='add').action(self.add, 'one')
    h << h.a('rename', id='rename').action(self.rename, 'renamed')
    h << h.a('boom', id='boom').action(self.boom)
    h << h.a('refuse', id='refuse').action(self.refuse)
    if archived():
        h << h.a('both', id='both').action(self.both)
        h << h.a('both boom', id='both-boom').action(self.both_boom)
        h << h.span(str(query(Entry).count()), id='entries')
    note = self.note
    h << h.span('%s %s' % (note.id, note.title) if note is not None else '-', id='note')
    with h.ul(id='notes'):
        for n in query(Note).order_by(Note.id):
            h << h.li(n.title)
    return h.root


@presentation.init_for(Root, "url == ('slow',)")
def init_slow(self, url, comp, http_method, request):
    self.slow = True


class App(wsgi.WSGIApp):
    def start(self):
        super(App, self).start()
        if self.databases and session.get_bind(Note).dialect.name == 'postgresql':
            sys.stderr.write('dbapp: process %d started on backend %d\n' % (os.getpid(), backend_pid()))
            sys.stderr.flush()
            session.remove()  # the connection goes back to the pool, which the workers inherit


app = App(Root)
