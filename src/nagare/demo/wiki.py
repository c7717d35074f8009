"""The demo's wiki: pages kept in a database (SQLite by default), reached by REST URLs.

- `Page(name, text, modified)`: the model, plain SQLAlchemy 2.x; its `metadata` is named by the
  `[database]` section of `conf/demo.cfg`, and `populate()` writes the first pages (FrontPage and
  a page it links to), as `nagare-admin create-db demo` calls it.
- `Wiki`: the tab. It shows a `PageView` (the page's text, its WikiWords — CamelCase words — as
  links, a missing page offering to create it) or the `PageIndex` (every page). Editing is a flow:
  `PageView.edit` calls a `PageEditor` in the page's place and saves the text it answers (Cancel
  answers None: nothing is written). The page a view shows is the entity itself, which the page
  state keeps as its class and key: every request reads the row again, so an older page (the back
  button) shows the current text.
- REST URLs (the Demo gives the wiki the url `wiki`): `/demo/wiki` is the FrontPage,
  `/demo/wiki/<PageName>` a page (a WikiWord; another name is a 404), `/demo/wiki/pages` the list.
  Every link of the wiki carries such an href, so a reload or a bookmark lands on the same page.
- Its texts speak French and English: every one is a `nagare.i18n` message (`_`, `_N`), its dates
  are `i18n.format_datetime`; the catalogs are the demo's, `nagare/demo/locale/<lang>/LC_MESSAGES/
  demo.mo` (domain `demo`), the locale negotiated by `DemoApp.create_locale` or chosen in the
  demo's header. How the catalogs are made: "Translating the demo" in docs/i18n.md.

Where the database comes from: `conf/demo.cfg` names a SQLite file, `$here/../data/demo.db`
(`src/nagare/demo/data/demo.db` in an editable install: a folder of the demo's own that it can
write). The README's first command serves the demo on a fresh clone with no other step, so nobody
has run `create-db` then: the demo's application class (`nagare.demo.app.DemoApp`) calls
`prepare()` at start, which makes the folder, creates the missing tables (`create_all` leaves
existing ones alone) and populates an empty database. It is done in `start()` rather than in a
view so that each process checks once, before serving, and a failure (a folder that cannot be
written) is one warning in the log: the other tabs work on, the wiki answers 503.
`nagare-admin create-db --drop demo` resets the wiki to its first pages.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import exc, orm

from nagare import component, database, i18n, presentation, var
from nagare.database import session
from nagare.i18n import _, _N

if TYPE_CHECKING:
    from webob import Request

    from nagare.namespaces import xhtml5
    from nagare.types import Child

__all__ = [
    "Page",
    "metadata",
    "populate",
    "prepare",
    "Wiki",
    "PageView",
    "PageIndex",
    "PageEditor",
    "FRONT_PAGE",
    "is_wiki_word",
]

log = logging.getLogger("nagare.demo.wiki")

#: The page shown first, and at /demo/wiki.
FRONT_PAGE = "FrontPage"
#: The URL segment of the list of pages: not a WikiWord, so no page can take it.
INDEX = "pages"

#: A WikiWord: two capitalised parts or more, letters and digits only ("FrontPage", "Nagare05Notes").
WIKI_WORD = re.compile(r"\b(?:[A-Z][a-z0-9]+){2,}\b")


def is_wiki_word(name: str) -> bool:
    """Whether `name` is a WikiWord as a whole: a name a page can have."""
    return WIKI_WORD.fullmatch(name) is not None


# --- the model -------------------------------------------------------------------------------


class Base(orm.DeclarativeBase):
    pass


#: The tables of the wiki (`[database] metadata = nagare.demo.wiki:metadata`).
metadata = Base.metadata


def _now() -> datetime.datetime:
    # UTC, without tzinfo: SQLite keeps no timezone
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


class Page(Base):
    """A page of the wiki: its name (a WikiWord) is its key."""

    __tablename__ = "wiki_page"

    name: orm.Mapped[str] = orm.mapped_column(sa.String(100), primary_key=True)
    text: orm.Mapped[str] = orm.mapped_column(sa.Text, default="")
    #: When the text was last saved (UTC).
    modified: orm.Mapped[datetime.datetime] = orm.mapped_column(sa.DateTime, default=_now)

    def __repr__(self) -> str:
        return f"<Page {self.name}>"


FRONT_TEXT = """\
Welcome to the wiki of the Nagare demo.

Its pages are rows of a database table (SQLite by default), written through nagare.database; \
each request runs in a transaction. A word made of capitalised parts, such as NagareWiki, is a \
link to the page of that name.

A link to a page nobody wrote yet, such as SandBox, offers to create it."""

SECOND_TEXT = """\
The page shown is kept in the component as the database entity itself; the page state stores \
its class and key only, and each request reads the row again. Go back to an older page after \
an edit: it shows the current text.

Editing is a flow: the page calls its editor and saves the text the editor answers. \
Back to the FrontPage."""


def populate() -> None:
    """The first pages: FrontPage and NagareWiki, which it links to (called in a transaction)."""
    session.add_all([Page(name=FRONT_PAGE, text=FRONT_TEXT), Page(name="NagareWiki", text=SECOND_TEXT)])


def prepare(engine: sa.Engine) -> None:
    """What the demo does at start: the SQLite file's folder made, the missing tables created,
    an empty wiki populated. Idempotent; two processes starting together are fine (the second
    finds the work done, or fails to write the same rows and leaves them)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        folder = os.path.dirname(os.path.abspath(url.database))
        os.makedirs(folder, exist_ok=True)
    metadata.create_all(engine)
    with orm.Session(engine) as db:
        if db.scalar(sa.select(sa.func.count()).select_from(Page)):
            return
    with database.transaction() as end:
        populate()
        end(True)


def start(engine: sa.Engine | None, logger: logging.Logger = log) -> None:
    """`prepare(engine)` when the wiki has a database; a failure is one warning, not a stop.

    A first failure of the database itself (another process creating the same table at the same
    moment, the file locked) is tried once more; rows written meanwhile by another process are
    left as they are.
    """
    if engine is None:
        return
    for attempt in (1, 2):
        try:
            prepare(engine)
            return
        except exc.IntegrityError:
            return  # another process populated it at the same time
        except exc.OperationalError as error:
            failure: Exception = error
            if attempt == 1:
                time.sleep(0.2)
        except (exc.SQLAlchemyError, OSError) as error:
            failure = error
            break
    where = engine.url.render_as_string(hide_password=True)
    reason = str(getattr(failure, "orig", None) or failure).strip().splitlines()
    logger.warning("the wiki's database %s could not be prepared: %s", where, reason[0] if reason else type(failure).__name__)


def find(name: str) -> Page | None:
    """The page named `name`, None when there is none."""
    return session.get(Page, name)


def save(name: str, text: str) -> Page:
    """Write `text` as the text of the page `name` (created if missing); returns the page."""
    page = find(name)
    if page is None:
        page = Page(name=name)
        session.add(page)
    page.text = text.replace("\r\n", "\n")
    page.modified = _now()
    return page


def segments(text: str) -> Iterator[list[tuple[str, bool]]]:
    """The paragraphs of `text` (separated by blank lines), each as (piece, is a WikiWord) pieces."""
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        pieces: list[tuple[str, bool]] = []
        position = 0
        for match in WIKI_WORD.finditer(paragraph):
            if match.start() > position:
                pieces.append((paragraph[position : match.start()], False))
            pieces.append((match.group(), True))
            position = match.end()
        if position < len(paragraph):
            pieces.append((paragraph[position:], False))
        if pieces:
            yield pieces


def has_database() -> bool:
    """Whether the wiki's metadata is bound in this process (the demo served without `[database]`: no)."""
    return metadata in database.engines()


# --- the components --------------------------------------------------------------------------


class Wiki:
    """The wiki tab: a menu, and the page shown (a `PageView`, the `PageIndex` or an editor)."""

    def __init__(self, name: str = FRONT_PAGE) -> None:
        # nothing read here: the demo's root is made before any request may read the database
        self.content = component.Component(PageView(self, name))

    def goto(self, name: str) -> None:
        self.content.becomes(PageView(self, name))

    def show_index(self) -> None:
        self.content.becomes(PageIndex(self))


class PageView:
    """A page: its text with its WikiWords as links; a missing page offers to create it."""

    def __init__(self, wiki: Wiki, name: str) -> None:
        self.wiki = wiki
        self.name = name
        #: The entity (pickled as its class and key), None until read or while the page is missing.
        self.page: Page | None = None

    @property
    def current(self) -> Page | None:
        """The page as the database has it now (None: missing)."""
        if self.page is None:  # not read yet, missing when last read, or deleted since
            self.page = find(self.name)
        return self.page

    def source(self) -> str:
        """The text of the page now ('' when missing)."""
        page = self.current
        return page.text if page is not None else ""

    def edit(self, comp: component.Component) -> None:
        """Show the editor in the page's place; save what it answers (None: cancelled)."""
        before = self.source()
        text = comp.call(PageEditor(self.name, before), url=self.name)
        if text is not None:
            self.page = save(self.name, text)


class PageIndex:
    """Every page of the wiki, with when it was last modified."""

    def __init__(self, wiki: Wiki) -> None:
        self.wiki = wiki


class PageEditor:
    """A form to edit the text of a page: answers the text (Save) or None (Cancel)."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = var.Var(text)

    def save(self, comp: component.Component) -> None:
        comp.answer(self.text())

    def cancel(self, comp: component.Component) -> None:
        comp.answer(None)


# --- the views -------------------------------------------------------------------------------

STYLE = """
.wiki-menu a { margin-right: 1em; }
.wiki-page .modified, .wiki-index .modified { color: #777; font-size: 0.9em; }
.wiki-page a.missing { color: #a33; }
.wiki-editor textarea { width: 100%; max-width: 50em; height: 16em; font-family: inherit; }
"""


def _link(h: xhtml5.Renderer, wiki: Wiki, name: str, label: str | None = None, missing: bool = False, **attributes: object) -> Child:
    """A link to the page `name`, its href the page's REST URL (under the wiki's)."""
    link = h.a(label or name, href=name, **attributes).action(wiki.goto, name)
    if missing:
        link.set("class", "missing")
        link.set("title", _("This page does not exist yet: create it"))
    return link


@presentation.render_for(Wiki)
def render_wiki(self: Wiki, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    h.head.css("nagare-demo-wiki", STYLE)
    with h.div(class_="wiki"):
        with h.div(class_="wiki-menu"):
            h << _link(h, self, FRONT_PAGE, id="wiki-front")
            h << h.a(_("All pages"), href=INDEX, id="wiki-index").action(self.show_index)
        if has_database():
            h << self.content
        else:
            h << h.p(
                _("The wiki needs a database: an activated [database] section in the application file (conf/demo.cfg has one)."),
                id="wiki-no-database",
            )
    return h.root


@presentation.render_for(PageView)
def render_page(self: PageView, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    page = self.current
    with h.div(class_="wiki-page"):
        h << h.h2(self.name, id="wiki-title")
        if page is None:
            with h.p(id="wiki-missing"):
                h << _("This page does not exist yet: ")
                h << h.a(_("create it"), href=self.name, id="wiki-create").action(self.edit, comp)
            return h.root
        paragraphs = list(segments(page.text))
        words = {piece for pieces in paragraphs for piece, word in pieces if word}
        existing = set(session.scalars(sa.select(Page.name).where(Page.name.in_(words)))) if words else set()
        with h.div(id="wiki-text"):
            for pieces in paragraphs:
                with h.p:
                    for piece, word in pieces:
                        h << (_link(h, self.wiki, piece, missing=piece not in existing) if word else piece)
        when = i18n.format_datetime(page.modified, "short")
        h << h.p(_("Modified %(when)s (UTC)", when=when), class_="modified", id="wiki-modified")
        h << h.p(h.a(_("Edit this page"), href=self.name, id="wiki-edit").action(self.edit, comp))
    return h.root


@presentation.render_for(PageIndex)
def render_index(self: PageIndex, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="wiki-index"):
        h << h.h2(_("All pages"))
        pages = session.execute(sa.select(Page.name, Page.modified).order_by(Page.name)).all()
        h << h.p(_N("%(n)d page", "%(n)d pages", len(pages), n=len(pages)), id="wiki-count")
        with h.ul(id="wiki-pages"):
            for name, modified in pages:
                with h.li:
                    h << _link(h, self.wiki, name)
                    h << " "
                    when = i18n.format_datetime(modified, "short")
                    h << h.span(_("modified %(when)s (UTC)", when=when), class_="modified")
    return h.root


@presentation.render_for(PageEditor)
def render_editor(self: PageEditor, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="wiki-editor"):
        h << h.h2(_("Editing %(name)s", name=self.name))
        with h.form(id="wiki-editor"):
            with h.div:
                h << h.textarea(self.text(), id="wiki-source").action(self.text)
            with h.div:
                h << h.input(type="submit", value=_("Save"), id="wiki-save").action(self.save, comp)
                h << h.input(type="submit", value=_("Cancel"), id="wiki-cancel").action(self.cancel, comp)
    return h.root


# --- REST URLs -------------------------------------------------------------------------------


@presentation.init_for(Wiki, "len(url) == 1 and url[0] == INDEX")
def init_index(self: Wiki, url: tuple[str, ...], comp: component.Component, http_method: str, request: Request | None) -> None:
    self.show_index()


@presentation.init_for(Wiki, "len(url) == 1 and is_wiki_word(url[0])")
def init_page(self: Wiki, url: tuple[str, ...], comp: component.Component, http_method: str, request: Request | None) -> None:
    self.goto(url[0])
