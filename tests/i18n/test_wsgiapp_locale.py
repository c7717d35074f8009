"""The locale of a request in WSGIApp: negotiated for a new session, kept by the session once the
application sets one, the same in every state (the back button too)."""

from __future__ import annotations

import re

from nagare import i18n, presentation
from tests.wsgi.test_app import Client, make_app


class Page:
    def choose(self, language: str) -> None:
        i18n.set_locale(i18n.Locale(language))


@presentation.render_for(Page)
def render(self: Page, h, comp, *args):
    h << h.span(i18n.get_locale().language, id="language")
    h << h.span(i18n.format_decimal(1234.5), id="number")
    h << h.a("fr", id="fr").action(self.choose, "fr")
    h << h.a("de", id="de").action(self.choose, "de")
    return h.root


def negotiating_app():
    app = make_app(Page)
    app.create_locale = lambda request: i18n.NegotiatedLocale(request, [("fr", None), ("en", None)], default_locale=("en", None))
    return app


def shown(response, name):
    return re.search(rf'id="{name}">([^<]*)<', response.text).group(1)


def Browser(app, accept_language):  # noqa: N802 (reads as the class it makes)
    client = Client(app)
    client.headers["Accept-Language"] = accept_language
    return client


def test_a_new_session_speaks_the_language_the_browser_prefers_among_the_application_s():
    assert shown(Browser(negotiating_app(), "fr-FR,fr;q=0.9").get(""), "language") == "fr"
    page = Browser(negotiating_app(), "de, en;q=0.5").get("")
    assert shown(page, "language") == "en" and shown(page, "number") == "1,234.5"
    assert shown(Browser(negotiating_app(), "ja").get(""), "language") == "en"  # none matches: the default


def test_the_default_locale_of_an_application_without_negotiation():
    app = make_app(Page)
    app.set_default_locale(i18n.Locale("fr"))
    page = Client(app).get("")
    assert shown(page, "language") == "fr" and shown(page, "number") == "1\u202f234,5"


def test_a_locale_set_by_an_action_is_kept_by_the_session_in_every_state():
    browser = Browser(negotiating_app(), "en")
    first = browser.get("")
    assert shown(first, "language") == "en"
    chosen = browser.get(browser.href(first, "de"))
    assert shown(chosen, "language") == "de"  # the page of the request that chose it
    assert shown(browser.get(browser.href(chosen, "fr")), "language") == "fr"
    # the back button: an older page of the session, and the browser still asking for English
    older = browser.get(re.sub(r"&?_action\d+", "", browser.href(first, "fr")))
    assert shown(older, "language") == "fr"


def test_outside_a_request_the_locale_is_back_to_the_default():
    app = make_app(Page)
    app.set_default_locale(i18n.Locale("fr"))
    Client(app).get("")
    assert i18n.get_locale() is i18n.DEFAULT_LOCALE
