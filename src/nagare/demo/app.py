"""The demo application: what a Nagare application is made of, one example a tab.

- Counter: actions on links, and a second view shown through `comp.becomes()`.
- Calculator: an RPN calculator whose keys are links.
- Form: an `editor.Editor` with validators, error messages and a file upload.
- Async counter: the same counter rendered by an `AsyncRenderer`: no page reload.
- Guess: a number-guessing game written as a `component.Task` (`nagare.demo.games`).
- Tic-tac-toe: a two-player game written as a `component.Task`; the back button forks both games.
- Wiki: pages kept in a database (SQLite by default), edited in a flow (`nagare.demo.wiki`).
- Languages: the Wiki and the tab labels speak French and English (the catalogs of the domain
  `demo` in `nagare/demo/locale`): a new session negotiates with the browser's `Accept-Language`
  (`DemoApp.create_locale`), and the header's "English / Français" switch sets the session's.
- REST URLs: /demo/counter/42 starts a session on the counter set to 42; /demo/wiki/<PageName>
  on a page of the wiki.

`app` is a `DemoApp`: the root `Demo` served by a `WSGIApp` whose `start()` prepares the wiki's
database (its tables made and filled when missing: see `nagare.demo.wiki`).
"""

from __future__ import annotations

import operator
import os
from typing import TYPE_CHECKING, Any

from nagare import component, database, editor, i18n, presentation, validator, var, wsgi
from nagare.demo import games, wiki
from nagare.i18n import _, _L

if TYPE_CHECKING:
    from webob import Request

    from nagare.namespaces import xhtml5
    from nagare.types import Child


#: The folder of the demo's catalogs (`<language>/LC_MESSAGES/demo.mo`), and their domain.
LOCALE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
DOMAIN = "demo"
#: The languages the demo speaks, the first the default, with their names in themselves.
LANGUAGES = {"en": "English", "fr": "Français"}


def make_locale(language: str) -> i18n.Locale:
    """The demo's locale for `language` (one of `LANGUAGES`): its catalogs; dates shown in UTC."""
    return i18n.Locale(language, dirname=LOCALE_DIR, domain=DOMAIN, timezone="UTC")


class Counter:
    def __init__(self, value: int = 0) -> None:
        self.value = value

    def increase(self) -> None:
        self.value += 1

    def decrease(self) -> None:
        self.value -= 1


@presentation.render_for(Counter)
def render_counter(self: Counter, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="counter"):
        h << h.a("--", id="decrease").action(self.decrease)
        h << h.span(self.value, class_="value")
        h << h.a("++", id="increase").action(self.increase)
        h << h.p(h.a("Show it big", id="big").action(lambda: comp.becomes(self, model="big")))
    return h.root


@presentation.render_for(Counter, model="big")
def render_big_counter(self: Counter, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="counter big"):
        h << h.span(self.value, class_="value")
        h << h.p(h.a("Back to the small counter", id="small").action(lambda: comp.becomes(self)))
    return h.root


class AsyncCounter:
    """A counter updated in place by XHR: the counter's own views, through an async renderer."""

    def __init__(self, value: int = 0) -> None:
        self.counter = component.Component(Counter(value))


@presentation.render_for(AsyncCounter)
def render_async_counter(self: AsyncCounter, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="async"):
        h << h.p("This counter is updated without reloading the page.")
        h << self.counter.render(h.AsyncRenderer())
    return h.root


class Calculator:
    """A reverse Polish notation calculator."""

    OPERATIONS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}

    def __init__(self) -> None:
        self.stack: list[float] = []
        self.display = var.Var("")
        self.error = ""

    def digit(self, d: str) -> None:
        self.error = ""
        self.display(self.display() + d)

    def enter(self) -> None:
        if self.display():
            self.stack.append(float(self.display()))
            self.display("")

    def operate(self, symbol: str) -> None:
        self.enter()
        if len(self.stack) < 2:
            self.error = "Two numbers are needed"
            return
        right, left = self.stack.pop(), self.stack.pop()
        try:
            result = self.OPERATIONS[symbol](left, right)
        except ZeroDivisionError:
            self.error = "Division by zero"
            self.stack.extend([left, right])
            return
        self.stack.append(int(result) if float(result).is_integer() else result)

    def clear(self) -> None:
        self.stack, self.error = [], ""
        self.display("")

    @property
    def top(self) -> str:
        if self.display():
            return self.display()
        return str(self.stack[-1]) if self.stack else "0"


@presentation.render_for(Calculator)
def render_calculator(self: Calculator, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    with h.div(class_="calculator"):
        h << h.div(self.top, class_="display", id="display")
        h << h.p("Stack: ", " ".join(str(v) for v in self.stack) or "(empty)", class_="stack")
        if self.error:
            h << h.p(self.error, class_="nagare-error-message")
        with h.div(class_="keys"):
            for row in ("789/", "456*", "123-", "0.+"):
                with h.div:
                    for key in row:
                        if key in self.OPERATIONS:
                            h << h.a(key, id=f"key-op{'+-*/'.index(key)}").action(lambda key=key: self.operate(key))
                        else:
                            h << h.a(key, id=f"key-{'dot' if key == '.' else key}").action(lambda key=key: self.digit(key))
            with h.div:
                h << h.a("Enter", id="key-enter").action(self.enter)
                h << h.a("C", id="key-clear").action(self.clear)
    return h.root


class Registration(editor.Editor):
    """A form with validation errors and a file upload."""

    # made by `Editor.__init__`
    name: editor.Property
    age: editor.Property
    email: editor.Property

    def __init__(self) -> None:
        self.person = Person()
        super().__init__(self.person, ("name", "age", "email"))
        self.name.validate(lambda v: validator.StringValidator(v).not_empty("A name is required").shorter_than(40))
        self.age.validate(lambda v: validator.IntValidator(v, msg="The age must be a number").greater_or_equal_than(0).lesser_than(150))
        self.email.validate(lambda v: validator.StringValidator(v).not_empty("An email is required").is_email())
        self.upload: tuple[str, int] | None = None
        self.saved = False

    # `Any`: an upload (a cgi.FieldStorage), or '' when no file was chosen: getattr() tells them apart
    def set_file(self, field: Any) -> None:
        filename = getattr(field, "filename", None)
        if filename:
            data = field.file.read()
            self.upload = (filename, len(data))

    def save(self) -> None:
        self.saved = self.commit()


class Person:
    def __init__(self) -> None:
        self.name = ""
        self.age = 0
        self.email = ""


@presentation.render_for(Registration)
def render_registration(self: Registration, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    if self.saved:
        h << h.p(f"Saved: {self.person.name}, {self.person.age} years, {self.person.email}", id="saved")
    with h.form(id="registration"):
        with h.div:
            h << h.label("Name", for_="name")
            h << h.input(id="name", value=self.name()).action(self.name).error(self.name.error)
        with h.div:
            h << h.label("Age", for_="age")
            h << h.input(id="age", value=self.age()).action(self.age).error(self.age.error)
        with h.div:
            h << h.label("Email", for_="email")
            h << h.input(id="email", value=self.email()).action(self.email).error(self.email.error)
        with h.div:
            h << h.label("Photo", for_="photo")
            h << h.input(id="photo", type="file").action(self.set_file)
        h << h.input(type="submit", value="Save", id="save").action(self.save)
    if self.upload:
        h << h.p(f"Received {self.upload[0]} ({self.upload[1]} bytes)", id="upload")
    return h.root


class Demo:
    """The root: a menu of the examples."""

    TABS = ("counter", "calculator", "form", "async", "guess", "tictactoe", "wiki")
    #: The label of a tab (lazy: translated in the locale of the page that shows it).
    LABELS = {
        "counter": _L("Counter"),
        "calculator": _L("Calculator"),
        "form": _L("Form"),
        "async": _L("Async"),
        "guess": _L("Guess the number"),
        "tictactoe": _L("Tic-tac-toe"),
        "wiki": _L("Wiki"),
    }
    #: The tabs whose link carries a RESTful href (/demo/<tab>): the wiki's pages are bookmarks.
    HREFS = ("wiki",)

    def __init__(self) -> None:
        self.tab = "counter"
        self.examples = {
            "counter": component.Component(Counter()),
            "calculator": component.Component(Calculator()),
            "form": component.Component(Registration()),
            "async": component.Component(AsyncCounter()),
            # Tasks: each starts its go() when its tab is first rendered
            "guess": component.Component(games.GamePanel(games.GuessGame())),
            "tictactoe": component.Component(games.GamePanel(games.TicTacToe())),
            # its links are under /demo/wiki/
            "wiki": component.Component(wiki.Wiki(), url="wiki"),
        }

    def select(self, tab: str) -> None:
        self.tab = tab

    def set_language(self, language: str) -> None:
        """The language of this page and, from now on, of the session (all its states)."""
        i18n.set_locale(make_locale(language))


@presentation.render_for(Demo)
def render_demo(self: Demo, h: xhtml5.Renderer, comp: component.Component, *args: object) -> Child:
    h.head << h.head.title(_("Nagare demo"))
    h.head.css_url("demo.css")
    with h.div(class_="header"):
        h << h.strong(_("Nagare demo"), " ")
        for tab in self.TABS:
            link = h.a(self.LABELS[tab], id=f"tab-{tab}")
            if tab in self.HREFS:
                link(href=tab)
            link.action(lambda tab=tab: self.select(tab))
            if tab == self.tab:
                link.set("class", "current")
            h << link
        current = i18n.get_locale().language
        with h.span(class_="languages", id="languages", style="float: right"):
            for position, (language, name) in enumerate(LANGUAGES.items()):
                if position:
                    h << " / "
                choice = h.a(name, id=f"lang-{language}", lang=language).action(self.set_language, language)
                if language == current:
                    choice.set("class", "current")
                h << choice
    with h.div(class_="content", id="content"):
        h << self.examples[self.tab]
    return h.root


@presentation.init_for(Demo, "len(url) == 1 and url[0] in self.TABS")
def init_tab(
    self: Demo, url: tuple[str, ...], comp: component.Component, http_method: str, request: Request | None
) -> None:
    self.select(url[0])


@presentation.init_for(Demo, "len(url) == 2 and url[0] == 'counter' and url[1].lstrip('-').isdigit()")
def init_counter(
    self: Demo, url: tuple[str, ...], comp: component.Component, http_method: str, request: Request | None
) -> None:
    self.select("counter")
    self.examples["counter"]().value = int(url[1])


@presentation.init_for(Demo, "len(url) >= 2 and url[0] == 'wiki'")
def init_wiki(
    self: Demo, url: tuple[str, ...], comp: component.Component, http_method: str, request: Request | None
) -> None:
    self.select("wiki")
    self.examples["wiki"].init(url[1:], http_method, request)  # a page, or 404


class DemoApp(wsgi.WSGIApp):
    """The demo's application: at start, the wiki's database made ready (`nagare.demo.wiki.start`);
    the locale of a new session negotiated among the demo's languages (English by default)."""

    def create_locale(self, request: Request) -> i18n.Locale:
        return i18n.NegotiatedLocale(
            request, [(language, None) for language in LANGUAGES], dirname=LOCALE_DIR, domain=DOMAIN, timezone="UTC"
        )

    def start(self) -> None:
        super().start()
        wiki.start(database.engines().get(wiki.metadata), self.log)


app = DemoApp(Demo)
