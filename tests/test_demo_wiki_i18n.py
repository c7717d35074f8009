"""The demo's Wiki in French and English, through the WSGI application in process (a SQLite file
in tmp_path, as in tests/test_demo_wiki.py), and its catalogs checked against the real Babel
commands: the .mo files compiled from the .po files, the .po files holding every message of the code.
"""

from __future__ import annotations

import datetime
import re
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from contextlib import closing
from pathlib import Path

import pytest
from babel import dates
from babel.messages import mofile, pofile

import nagare.demo
from nagare import database, i18n
from nagare.demo.app import LANGUAGES, make_locale
from tests.test_demo_wiki import DEMO_CFG, by_id, demo_app, submit, tree
from tests.wsgi.test_app import Client, ids

DEMO = Path(nagare.demo.__file__).parent
LOCALE = DEMO / "locale"
ROOT = Path(__file__).parent.parent
PYBABEL = str(Path(sys.executable).with_name("pybabel"))
# the extraction of docs/i18n.md's "Translating the demo", run from the repository's root
EXTRACT = [
    "extract", "-F", "src/nagare/demo/babel.cfg", "-k", "_N:1,2", "-k", "_L", "-k", "_LN:1,2",
    "--add-location=file", "--sort-by-file", "--project=Nagare demo", "--copyright-holder=The Nagare authors",
]  # fmt: skip


@pytest.fixture
def app(tmp_path):
    (tmp_path / "conf").mkdir()
    shutil.copy(DEMO_CFG, tmp_path / "conf" / "demo.cfg")
    yield demo_app(tmp_path / "conf" / "demo.cfg")
    database.reset()
    i18n.clear_catalogs()


@pytest.fixture
def db_file(tmp_path, app):
    return tmp_path / "data" / "demo.db"


def browser(app, accept_language=None):
    client = Client(app)
    if accept_language is not None:
        client.headers["Accept-Language"] = accept_language
    return client


def text(response, element_id):
    return " ".join(tree(response).get_element_by_id(element_id).text_content().split())


def language(response):
    """The language the header's switch marks as current."""
    current = [a.get("lang") for a in tree(response).get_element_by_id("languages").iter("a") if a.get("class") == "current"]
    assert len(current) == 1, current
    return current[0]


def page_title(response):
    return tree(response).find(".//title").text


# --- the pages in each language ---------------------------------------------------------------


def test_a_french_browser_gets_the_wiki_in_french(app):
    client = browser(app, "fr-FR,fr;q=0.9,en;q=0.5")
    front = client.get(path="/wiki")
    assert language(front) == "fr" and page_title(front) == "Démo de Nagare"
    assert text(front, "wiki-edit") == "Modifier cette page"
    assert text(front, "wiki-index") == "Toutes les pages"
    assert text(front, "wiki-modified").startswith("Modifiée le ")
    assert [text(front, f"tab-{tab}") for tab in ("counter", "calculator", "form", "guess", "tictactoe", "wiki")] == [
        "Compteur", "Calculatrice", "Formulaire", "Devinez le nombre", "Morpion", "Wiki",
    ]  # fmt: skip
    sandbox = [a for a in tree(front).get_element_by_id("wiki-text").iter("a") if a.text == "SandBox"][0]
    assert sandbox.get("title") == "Cette page n’existe pas encore : créez-la"
    missing = client.get(path="/wiki/SandBox")
    assert text(missing, "wiki-missing") == "Cette page n’existe pas encore : créez-la"
    assert text(missing, "wiki-create") == "créez-la"
    index = client.get(path="/wiki/pages")
    assert tree(index).find(".//h2").text == "Toutes les pages" and text(index, "wiki-count") == "2 pages"


def test_the_editor_in_french_saves_with_its_french_button(app, db_file):
    client = browser(app, "fr")
    editor = client.get(by_id(client.get(path="/wiki/SandBox"), "wiki-create"))
    assert tree(editor).find(".//h2").text == "Modification de SandBox"
    buttons = [i.get("value") for i in tree(editor).get_element_by_id("wiki-editor").cssselect("input[type=submit]")]
    assert buttons == ["Enregistrer", "Annuler"]
    page = submit(client, editor, "Enregistrer", "Écrit en français.")
    assert text(page, "wiki-text") == "Écrit en français." and text(page, "wiki-edit") == "Modifier cette page"
    with closing(sqlite3.connect(db_file)) as db:
        assert db.execute("select text from wiki_page where name = 'SandBox'").fetchone() == ("Écrit en français.",)


@pytest.mark.parametrize("accept_language", ["en", "en-GB,en;q=0.8", "de, ja;q=0.5", None])
def test_an_english_or_other_browser_gets_the_wiki_in_english(app, accept_language):
    client = browser(app, accept_language)
    front = client.get(path="/wiki")
    assert language(front) == "en" and page_title(front) == "Nagare demo"
    assert text(front, "wiki-edit") == "Edit this page" and text(front, "wiki-index") == "All pages"
    assert text(front, "tab-counter") == "Counter" and text(front, "tab-guess") == "Guess the number"
    assert text(front, "wiki-modified").startswith("Modified ")
    assert text(client.get(path="/wiki/SandBox"), "wiki-missing") == "This page does not exist yet: create it"
    index = client.get(path="/wiki/pages")
    assert tree(index).find(".//h2").text == "All pages" and text(index, "wiki-count") == "2 pages"


def test_the_dates_are_formatted_for_the_language(app, db_file):
    with closing(sqlite3.connect(db_file)) as db, db:
        db.execute("update wiki_page set modified = '2024-03-01 14:05:00.000000'")
    when = datetime.datetime(2024, 3, 1, 14, 5)
    french = browser(app, "fr").get(path="/wiki")
    assert text(french, "wiki-modified") == "Modifiée le 01/03/2024 14:05 (UTC)"
    english = browser(app, "en").get(path="/wiki")
    assert text(english, "wiki-modified") == " ".join(f"Modified {dates.format_datetime(when, 'short', locale='en')} (UTC)".split())
    assert "3/1/24" in text(english, "wiki-modified")
    index = tree(browser(app, "fr").get(path="/wiki/pages")).get_element_by_id("wiki-pages")
    assert [" ".join(s.text_content().split()) for s in index.cssselect(".modified")] == ["modifiée le 01/03/2024 14:05 (UTC)"] * 2


def test_the_plural_follows_the_language_s_rules():
    # French: 0 and 1 are singular; English: only 1
    for language, zero in (("fr", "0 page"), ("en", "0 pages")):
        locale = make_locale(language)
        assert [locale.ungettext("%(n)d page", "%(n)d pages", n, n=n) for n in (0, 1, 2)] == [zero, "1 page", "2 pages"]


# --- the language switch ------------------------------------------------------------------------


def test_the_switch_sets_french_for_the_session_in_every_state(app):
    client = browser(app, "en")
    first = client.get(path="/wiki")
    assert language(first) == "en" and text(first, "wiki-edit") == "Edit this page"
    before = ids(by_id(first, "wiki-edit"))
    french = client.get(by_id(first, "lang-fr"))
    assert language(french) == "fr" and text(french, "wiki-edit") == "Modifier cette page"  # the page of the switch
    assert ids(by_id(french, "wiki-edit"))[0] == before[0]  # the same session
    # later requests of the session, the browser still asking for English
    index = client.get(by_id(french, "wiki-index"))
    assert language(index) == "fr" and tree(index).find(".//h2").text == "Toutes les pages"
    counter = client.get(by_id(index, "tab-counter"))
    assert language(counter) == "fr" and text(counter, "tab-counter") == "Compteur"
    # an older state: the page shown before the switch (the back button, then a reload)
    session_id, state_id = before
    older = client.get(f"/t/wiki?_s={session_id}&_c={state_id:05d}")
    assert language(older) == "fr" and text(older, "wiki-edit") == "Modifier cette page"
    # and back to English
    english = client.get(by_id(older, "lang-en"))
    assert language(english) == "en" and text(english, "wiki-edit") == "Edit this page"
    assert language(client.get(by_id(english, "wiki-index"))) == "en"


def test_the_choice_is_the_session_s_a_new_session_negotiates_again(app):
    client = browser(app, "en")
    first = client.get(path="/wiki")
    assert language(client.get(by_id(first, "lang-fr"))) == "fr"
    other = browser(app, "en").get(path="/wiki")  # another browser
    assert language(other) == "en" and text(other, "wiki-edit") == "Edit this page"


def test_the_switch_names_each_language_in_itself(app):
    switch = tree(browser(app, "fr").get(path="/wiki")).get_element_by_id("languages")
    assert [(a.get("id"), a.text) for a in switch.iter("a")] == [("lang-en", "English"), ("lang-fr", "Français")]
    assert " ".join(switch.text_content().split()) == "English / Français"
    assert list(LANGUAGES) == ["en", "fr"]


# --- the catalogs -------------------------------------------------------------------------------


def po(language):
    with open(LOCALE / language / "LC_MESSAGES" / "demo.po", "rb") as f:
        return pofile.read_po(f)


def mo(path):
    with open(path, "rb") as f:
        return mofile.read_mo(f)


def messages(catalog):
    """{msgid: msgstr} of a catalog's messages (the header left out); plurals as tuples."""
    return {_key(m.id): _key(m.string) for m in catalog if m.id}


def _key(value):
    return value if isinstance(value, str) else tuple(value)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_mo_shipped_is_the_po_compiled(tmp_path, language):
    source = po(language)
    assert not source.fuzzy and not [m.id for m in source if m.id and (m.fuzzy or not m.string or not all(m.string))]
    compiled = tmp_path / "demo.mo"
    result = subprocess.run(
        [PYBABEL, "compile", "-i", str(LOCALE / language / "LC_MESSAGES" / "demo.po"), "-o", str(compiled), "-l", language],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shipped = messages(mo(LOCALE / language / "LC_MESSAGES" / "demo.mo"))
    assert shipped == messages(mo(compiled))
    assert shipped == messages(source)
    assert mo(LOCALE / language / "LC_MESSAGES" / "demo.mo").plural_forms == source.plural_forms


def test_every_message_of_the_code_is_in_the_template_and_the_catalogs(tmp_path):
    pot = tmp_path / "demo.pot"
    result = subprocess.run([PYBABEL, *EXTRACT, "-o", str(pot), "src/nagare/demo"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    with open(pot, "rb") as f:
        extracted = {m.id for m in pofile.read_po(f) if m.id}
    # the wiki's messages are extracted (its _ and _N), and the tab labels (_L)
    assert {"Edit this page", "create it", "All pages", ("%(n)d page", "%(n)d pages"), "Guess the number"} <= extracted
    with open(LOCALE / "demo.pot", "rb") as f:
        assert {m.id for m in pofile.read_po(f) if m.id} == extracted
    for language in ("fr", "en"):
        assert set(messages(po(language))) == extracted, language


def test_the_french_catalog_translates_every_message():
    assert all(message.string != message.id for message in po("fr") if message.id and message.id not in ("Wiki", ("%(n)d page", "%(n)d pages")))


def test_the_catalogs_are_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["*"]
    shipped = {path for pattern in patterns for path in DEMO.glob(pattern) if path.is_file()}
    catalogs = {path for path in LOCALE.rglob("*") if path.is_file()}
    assert catalogs == {LOCALE / "demo.pot"} | {LOCALE / lang / "LC_MESSAGES" / f"demo.{ext}" for lang in ("fr", "en") for ext in ("po", "mo")}
    assert catalogs <= shipped and DEMO / "babel.cfg" in shipped


def test_the_commands_of_the_docs_are_those_the_tests_run():
    docs = (ROOT / "docs" / "i18n.md").read_text()
    section = docs[docs.index("## Translating the demo") :]
    commands = [" ".join(line.split()) for line in re.sub(r"\\\n", " ", section).splitlines() if line.startswith("pybabel ")]
    assert commands[0].startswith(" ".join(["pybabel", *EXTRACT[:-2]]))
    assert any(c.startswith("pybabel compile -d src/nagare/demo/locale -D demo") for c in commands)
