"""The demo's wiki through the WSGI application, in process, on a SQLite file in tmp_path.

The application is the demo's own class (`DemoApp`, whose start prepares the database), given the
`[database]` section of a copy of `conf/demo.cfg` put in tmp_path/conf: its `$here/../data/demo.db`
is then tmp_path/data/demo.db, and nothing is written into the source tree.
"""

from __future__ import annotations

import logging
from contextlib import closing
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import lxml.html
import pytest

import nagare.demo
from nagare import database
from nagare.config import application, loader
from nagare.demo import wiki
from nagare.demo.app import Demo, DemoApp
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from tests.wsgi.test_app import Client, ids, make_app

DEMO_CFG = Path(nagare.demo.__file__).parent / "conf" / "demo.cfg"


@pytest.fixture
def cfg(tmp_path):
    """A copy of the demo's application file, in tmp_path/conf."""
    (tmp_path / "conf").mkdir()
    shutil.copy(DEMO_CFG, tmp_path / "conf" / "demo.cfg")
    return tmp_path / "conf" / "demo.cfg"


@pytest.fixture
def db_file(tmp_path):
    return tmp_path / "data" / "demo.db"


def demo_app(cfg):
    """The demo's application, configured with the [database] of `cfg`, started."""
    config = application.read(str(cfg))
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    app = DemoApp(Demo, name="t", sessions=sessions)
    app.set_databases([d for d in config.databases if d.activated])
    app.start()
    return app


@pytest.fixture
def app(cfg):
    yield demo_app(cfg)
    database.reset()


@pytest.fixture
def client(app):
    return Client(app)


def rows(db_file):
    with closing(sqlite3.connect(db_file)) as db, db:
        return db.execute("select name, text, modified from wiki_page order by name").fetchall()


def texts(db_file):
    return {name: text for name, text, _ in rows(db_file)}


def tree(response):
    assert response.status_int == 200, response.status
    return lxml.html.fromstring(response.body)


def title(response):
    return tree(response).get_element_by_id("wiki-title").text_content()


def shown(response):
    """The text of the page shown, its paragraphs joined by a space, whitespace collapsed."""
    paragraphs = tree(response).get_element_by_id("wiki-text").findall("p")
    return " ".join(" ".join(p.text_content().split()) for p in paragraphs)


def link(response, text):
    """The href of the link of the wiki reading `text` (a WikiWord has no id: it may repeat)."""
    hrefs = [a.get("href") for a in tree(response).get_element_by_id("content").iter("a") if a.text_content() == text]
    assert hrefs, f"no link {text!r}"
    return hrefs[0]


def by_id(response, link_id):
    return tree(response).get_element_by_id(link_id).get("href")


def submit(client, response, button, text=None):
    """Submit the editor's form to its action URL: `text` typed in the textarea, `button` clicked."""
    form = tree(response).get_element_by_id("wiki-editor")
    data = {i.get("name"): i.get("value") for i in form.cssselect("input[type=hidden]")}
    textarea = form.cssselect("textarea")[0]
    data[textarea.get("name")] = textarea.text_content() if text is None else text
    clicked = next(s for s in form.cssselect("input[type=submit]") if s.get("value") == button)
    data[clicked.get("name")] = clicked.get("value")
    return client.open(form.get("action"), post=data)


def test_start_makes_the_folder_the_tables_and_the_first_pages(cfg, db_file, app):
    assert db_file.exists()  # tmp_path/data did not exist: start made it
    assert sorted(texts(db_file)) == ["FrontPage", "NagareWiki"]


def test_a_second_start_keeps_the_pages_as_they_are(cfg, db_file, app):
    with closing(sqlite3.connect(db_file)) as db, db:
        db.execute("update wiki_page set text = 'edited' where name = 'FrontPage'")
    database.reset()
    demo_app(cfg)  # another process starting, or a restart
    assert texts(db_file) == {"FrontPage": "edited", "NagareWiki": texts(db_file)["NagareWiki"]}


def test_the_front_page_with_its_wikiwords(client):
    page = client.get(path="/wiki")
    assert title(page) == "FrontPage"
    assert "Welcome to the wiki of the Nagare demo." in shown(page)
    assert tree(page).get_element_by_id("tab-wiki").get("class") == "current"
    nagare_wiki = [a for a in tree(page).get_element_by_id("wiki-text").iter("a") if a.text == "NagareWiki"][0]
    sandbox = [a for a in tree(page).get_element_by_id("wiki-text").iter("a") if a.text == "SandBox"][0]
    assert nagare_wiki.get("class") is None and sandbox.get("class") == "missing"  # no such page yet
    # RESTful hrefs: the page's own URL, with the action and the session's ids
    assert nagare_wiki.get("href").startswith("/t/wiki/NagareWiki?_action")
    assert by_id(page, "wiki-edit").startswith("/t/wiki/FrontPage?_action")
    assert by_id(page, "wiki-index").startswith("/t/wiki/pages?_action")
    assert by_id(page, "tab-wiki").startswith("/t/wiki?_action")


def test_following_a_wikiword_link(client):
    page = client.get(link(client.get(path="/wiki"), "NagareWiki"))
    assert title(page) == "NagareWiki"
    assert "the database entity itself" in shown(page)
    page = client.get(link(page, "FrontPage"))  # its link back, in its text
    assert title(page) == "FrontPage"


def test_creating_a_missing_page(client, db_file):
    page = client.get(link(client.get(path="/wiki"), "SandBox"))
    assert title(page) == "SandBox"
    assert tree(page).get_element_by_id("wiki-missing").text_content() == "This page does not exist yet: create it"
    editor = client.get(by_id(page, "wiki-create"))
    form = tree(editor).get_element_by_id("wiki-editor")
    assert form.get("action") == "/t/wiki/SandBox" and form.cssselect("textarea")[0].text_content() == ""
    page = submit(client, editor, "Save", "Play here.\r\n\r\nOr go to the FrontPage.")
    assert title(page) == "SandBox" and shown(page) == "Play here. Or go to the FrontPage."
    assert len(tree(page).get_element_by_id("wiki-text").findall("p")) == 2
    assert texts(db_file)["SandBox"] == "Play here.\n\nOr go to the FrontPage."
    front = tree(client.get(link(page, "FrontPage"))).get_element_by_id("wiki-text")
    assert [a.get("class") for a in front.iter("a") if a.text == "SandBox"] == [None]  # it exists now


def test_editing_and_saving_writes_the_row(client, db_file):
    with closing(sqlite3.connect(db_file)) as db, db:
        db.execute("update wiki_page set modified = '2001-01-01 00:00:00.000000'")
    page = client.get(path="/wiki")
    editor = client.get(by_id(page, "wiki-edit"))
    assert tree(editor).cssselect("#wiki-editor textarea")[0].text_content() == texts(db_file)["FrontPage"]
    page = submit(client, editor, "Save", "A new front page, see NagareWiki.")
    assert title(page) == "FrontPage" and shown(page) == "A new front page, see NagareWiki."
    front = [row for row in rows(db_file) if row[0] == "FrontPage"][0]
    assert front[1] == "A new front page, see NagareWiki." and not front[2].startswith("2001")
    assert [row for row in rows(db_file) if row[0] == "NagareWiki"][0][2].startswith("2001")  # only that row


def test_cancel_writes_nothing(client, db_file):
    before = rows(db_file)
    page = client.get(path="/wiki/NagareWiki")
    editor = client.get(by_id(page, "wiki-edit"))
    page = submit(client, editor, "Cancel", "typed, then cancelled")
    assert title(page) == "NagareWiki" and "typed" not in page.text
    assert rows(db_file) == before


def test_the_rest_url_of_a_page_and_of_the_list(app, db_file):
    page = Client(app).get(path="/wiki/NagareWiki")
    assert title(page) == "NagareWiki" and "the database entity itself" in shown(page)
    pages = tree(Client(app).get(path="/wiki/pages")).get_element_by_id("wiki-pages")
    assert [a.text for a in pages.iter("a")] == ["FrontPage", "NagareWiki"]
    assert Client(app).get(path="/wiki/not_a_wiki_word").status_int == 404
    assert Client(app).get(path="/wiki/FrontPage/more").status_int == 404


def test_an_unknown_page_s_rest_url_offers_to_create_it(app, db_file):
    client = Client(app)
    page = client.get(path="/wiki/NewIdeas")
    assert title(page) == "NewIdeas" and "create it" in tree(page).get_element_by_id("wiki-missing").text_content()
    assert "NewIdeas" not in texts(db_file)
    page = submit(client, client.get(by_id(page, "wiki-create")), "Save", "Written from its URL.")
    assert texts(db_file)["NewIdeas"] == "Written from its URL."
    assert shown(Client(app).get(path="/wiki/NewIdeas")) == "Written from its URL."


def test_the_back_button_after_an_edit_shows_the_current_text(client, db_file):
    page = client.get(path="/wiki")
    before = ids(by_id(page, "wiki-edit"))  # the state of the page before the edit
    page = submit(client, client.get(by_id(page, "wiki-edit")), "Save", "Edited text.")
    assert shown(page) == "Edited text."
    session_id, state_id = before
    old = client.get(f"/t/wiki?_s={session_id}&_c={state_id:05d}")  # the back button, then a reload
    assert title(old) == "FrontPage" and shown(old) == "Edited text."  # read again, not kept in the state
    # and acting on the old page goes on from there
    page = client.get(link(old, "FrontPage"))
    assert shown(page) == "Edited text."


def test_the_front_page_kept_in_an_older_state_may_be_gone(client, db_file):
    page = client.get(link(client.get(path="/wiki"), "SandBox"))
    page = submit(client, client.get(by_id(page, "wiki-create")), "Save", "Soon gone.")
    session_id, state_id = ids(by_id(page, "wiki-edit"))
    with closing(sqlite3.connect(db_file)) as db, db:
        db.execute("delete from wiki_page where name = 'SandBox'")
    again = client.get(f"/t/wiki/SandBox?_s={session_id}&_c={state_id:05d}")
    assert title(again) == "SandBox" and "create it" in tree(again).get_element_by_id("wiki-missing").text_content()


def test_create_db_drop_resets_the_wiki(cfg, db_file, app, client):
    submit(client, client.get(by_id(client.get(path="/wiki"), "wiki-edit")), "Save", "Edited before the reset.")
    submit(client, client.get(by_id(client.get(path="/wiki/OtherPage"), "wiki-create")), "Save", "Another.")
    assert sorted(texts(db_file)) == ["FrontPage", "NagareWiki", "OtherPage"]
    populated = texts(db_file)["NagareWiki"]
    script = Path(sys.executable).with_name("nagare-admin")
    result = subprocess.run([str(script), "create-db", "--drop", str(cfg)], capture_output=True, text=True, timeout=60, cwd=cfg.parent.parent)
    assert result.returncode == 0, result.stderr
    assert texts(db_file) == {"FrontPage": wiki.FRONT_TEXT, "NagareWiki": populated}
    assert "Welcome to the wiki" in shown(client.get(path="/wiki"))


def test_drop_db_then_start_again_makes_a_new_wiki(cfg, db_file, app):
    script = Path(sys.executable).with_name("nagare-admin")
    result = subprocess.run([str(script), "drop-db", str(cfg)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(db_file)) as db, db:
        assert db.execute("select name from sqlite_master where type = 'table'").fetchall() == []
    database.reset()
    demo_app(cfg)
    assert sorted(texts(db_file)) == ["FrontPage", "NagareWiki"]


def test_a_database_that_cannot_be_made_is_one_warning_and_the_other_tabs_work(tmp_path, caplog):
    (tmp_path / "data").write_text("a file where the folder should be")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "demo.cfg").write_text(DEMO_CFG.read_text())
    caplog.set_level(logging.WARNING)
    try:
        app = demo_app(tmp_path / "conf" / "demo.cfg")
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "the wiki's database" in warnings[0].getMessage() and "could not be prepared" in warnings[0].getMessage()
        client = Client(app)
        assert 'class="counter"' in client.get(path="/counter").text
        caplog.set_level(logging.CRITICAL)
        assert client.get(path="/wiki").status_int == 503  # every request of the wiki reads the database
    finally:
        database.reset()


def test_the_demo_served_without_a_database_says_what_the_wiki_needs():
    client = Client(make_app(root=Demo))
    page = client.get(path="/wiki")
    assert "The wiki needs a database" in tree(page).get_element_by_id("wiki-no-database").text_content()
    assert 'class="value">0<' in client.get(by_id(page, "tab-counter")).text


STARTER = """
import logging, sys
from nagare.config import application
from nagare.demo.app import DemoApp, Demo
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="%(levelname)s %(message)s")
config = application.read(sys.argv[1])
app = DemoApp(Demo, name="t")
app.set_databases([d for d in config.databases if d.activated])
app.start()
print("started")
"""


def test_processes_starting_together_on_a_new_database_share_one_wiki(cfg, db_file):
    starters = [
        subprocess.Popen([sys.executable, "-c", STARTER, str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(4)
    ]
    outputs = [starter.communicate(timeout=60)[0] for starter in starters]
    assert outputs == ["started\n"] * 4  # no warning, no error
    assert sorted(texts(db_file)) == ["FrontPage", "NagareWiki"]
