"""nagare.i18n: translations from catalogs compiled by pybabel, plural forms, lazy translations
(late, pickled in states, rendered), negotiation from Accept-Language, Babel's formatting and
parsing in the current locale, the validators' messages in French, a locale per request."""

from __future__ import annotations

import datetime
import decimal
import pickle
import threading
from typing import Any

import pytest
from babel.numbers import NumberFormatError
from webob import Request

from nagare import editor, i18n, presentation, validator, wsgi
from nagare.config import loader
from nagare.i18n import _, _L, _N, Locale, NegotiatedLocale
from nagare.namespaces import xhtml5
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from tests.i18n.conftest import Shop, pybabel, translate
from tests.support import pickling
from tests.support.wsgi_client import WSGIClient

NNBSP, NBSP = "\u202f", "\xa0"  # the spaces of French numbers: thousands, and before a unit


# -- translations from the catalogs of an application ---------------------------------------


def test_the_current_locale_translates_with_the_catalog_pybabel_compiled(shop: Shop) -> None:
    i18n.set_locale(shop.locale("fr", "FR"))
    assert shop.module.welcome("Alice") == "Bienvenue, Alice"
    assert _("Our shop") == "Notre boutique"
    assert i18n.ugettext("Our shop") == i18n.gettext("Our shop") == "Notre boutique"
    assert shop.module.untranslated() == "Nobody translated this"  # extracted, never translated
    assert _("Not even extracted") == "Not even extracted"

    i18n.set_locale(shop.locale("en"))  # the English catalog: messages as written
    assert shop.module.welcome("Alice") == "Welcome, Alice"
    assert _("Our shop") == "Our shop"


def test_interpolation_happens_only_with_keywords(shop: Shop) -> None:
    i18n.set_locale(shop.locale("fr"))
    assert _("Welcome, %(name)s") == "Bienvenue, %(name)s"  # no keyword: the text as translated
    assert _("100%") == "100%"
    with pytest.raises(KeyError):
        _("Welcome, %(name)s", nom="Alice")


def test_a_territory_without_its_catalog_uses_the_language_s(shop: Shop) -> None:
    i18n.set_locale(shop.locale("fr", "CA"))
    assert _("Our shop") == "Notre boutique"
    i18n.set_locale(shop.locale("de"))  # no German catalog: nothing translated, nothing fails
    assert _("Our shop") == "Our shop"
    assert shop.locale("de").translations().gettext("Our shop") == "Our shop"


def test_no_catalog_folder_translates_only_the_framework_s_messages() -> None:
    i18n.set_locale(Locale("fr"))
    assert _("Our shop") == "Our shop"
    assert _("Must be an integer", domain="nagare") == "Doit être un nombre entier"


@pytest.mark.parametrize(("n", "french", "english"), [
    (0, "0 pomme", "0 apples"),
    (1, "1 pomme", "1 apple"),
    (2, "2 pommes", "2 apples"),
    (21, "21 pommes", "21 apples"),
])
def test_plural_forms_are_the_locale_s(shop: Shop, n: int, french: str, english: str) -> None:
    i18n.set_locale(shop.locale("fr"))
    assert shop.module.apples(n) == french  # French: 0 is singular
    assert i18n.ungettext("%(n)d apple", "%(n)d apples", n, n=n) == i18n.ngettext("%(n)d apple", "%(n)d apples", n, n=n) == french
    i18n.set_locale(shop.locale("en"))
    assert shop.module.apples(n) == english
    assert _N("%(n)d apple", "%(n)d apples", n, n=n) == english


def test_pybabel_update_keeps_the_translations_and_adds_the_new_messages(shop: Shop, tmp_path: Any) -> None:
    import shutil

    root = tmp_path / "project"
    shutil.copytree(shop.root, root)
    locale_dir = root / "i18n_shop" / "locale"
    views = root / "i18n_shop" / "views.py"
    views.write_text(views.read_text() + '\n\ndef goodbye():\n    return _("Goodbye")\n')
    pot = locale_dir / "shop.pot"
    pybabel("extract", "-F", "babel.cfg", "-k", "_N:1,2", "-k", "_L", "-k", "_LN:1,2", "-o", pot, ".", cwd=root)
    pybabel("update", "-i", pot, "-d", locale_dir, "-D", "shop", cwd=root)
    po = locale_dir / "fr" / "LC_MESSAGES" / "shop.po"
    assert 'msgid "Goodbye"' in po.read_text()
    translate(po, {"Goodbye": "Au revoir"})
    pybabel("compile", "-d", locale_dir, "-D", "shop", cwd=root)
    i18n.set_locale(Locale("fr", dirname=str(locale_dir), domain="shop"))
    assert _("Goodbye") == "Au revoir"
    assert _("Our shop") == "Notre boutique"  # the earlier translation, kept by update


def test_an_application_overrides_the_framework_s_messages_one_by_one(shop: Shop, tmp_path: Any) -> None:
    """An application's `<dirname>/fr/LC_MESSAGES/nagare.mo` wins; the others are ours."""
    locale_dir = tmp_path / "locale"
    pybabel("init", "-i", i18n.NAGARE_DIRNAME + "/nagare.pot", "-d", locale_dir, "-D", "nagare", "-l", "fr", cwd=tmp_path)
    po = locale_dir / "fr" / "LC_MESSAGES" / "nagare.po"
    translate(po, {"Must be an integer": "Un entier, s'il vous plaît"})
    pybabel("compile", "-d", locale_dir, "-D", "nagare", cwd=tmp_path)
    i18n.set_locale(Locale("fr", dirname=str(locale_dir), domain="shop"))
    assert _("Must be an integer", domain="nagare") == "Un entier, s'il vous plaît"
    assert _("Can't be empty", domain="nagare") == "Ne peut pas être vide"
    with pytest.raises(ValueError) as info:
        validator.IntValidator("x")
    assert str(info.value) == "Un entier, s'il vous plaît"


def test_catalogs_are_loaded_once_and_read_again_when_cleared(shop: Shop) -> None:
    locale = shop.locale("fr")
    assert locale.translations() is locale.translations()
    assert locale.translations() is shop.locale("fr").translations()  # per (dirname, domain, locale)
    before = locale.translations()
    i18n.clear_catalogs()
    assert locale.translations() is not before
    assert locale.ugettext("Our shop") == "Notre boutique"



def test_a_locale_changed_after_creation_translates_in_what_it_is_now(shop: Shop) -> None:
    locale = shop.locale("fr")
    assert locale.ugettext("Our shop") == "Notre boutique"
    locale.language = "en"  # Babel's attributes: the catalogs are found by them as they are now
    assert locale.ugettext("Our shop") == "Our shop"
    locale.language, locale.domain = "fr", "unknown"
    assert locale.ugettext("Our shop") == "Our shop"
    locale.domain = "shop"
    assert locale.ugettext("Our shop") == "Notre boutique"
    locale.dirname = None  # the application's catalogs gone: only the framework's domain is translated
    assert locale.ugettext("Our shop") == "Our shop"

# -- lazy translations ----------------------------------------------------------------------


def test_a_lazy_translation_is_translated_when_converted_in_the_locale_of_that_time(shop: Shop) -> None:
    title = shop.module.TITLE  # made at import, outside any locale
    i18n.set_locale(shop.locale("fr"))
    assert str(title) == "Notre boutique"
    i18n.set_locale(shop.locale("en"))
    assert str(title) == "Our shop"
    basket = shop.module.BASKET
    assert str(basket) == "3 items in the basket"
    i18n.set_locale(shop.locale("fr"))
    assert str(basket) == "3 articles dans le panier"
    assert i18n.lazy_ugettext("Our shop") == i18n.lazy_gettext("Our shop") == "Notre boutique"
    assert i18n.lazy_ungettext("%(n)d apple", "%(n)d apples", 1, n=1) == i18n.lazy_ngettext("%(n)d apple", "%(n)d apples", 1, n=1) == "1 pomme"


def test_a_lazy_translation_behaves_as_its_text(shop: Shop) -> None:
    i18n.set_locale(shop.locale("fr"))
    title = _L("Our shop")
    assert title == "Notre boutique" and "Notre boutique" == title and title != "Our shop"
    assert title == _L("Our shop") and hash(title) == hash("Notre boutique")
    assert {title: 1}["Notre boutique"] == 1
    assert len(title) == 14 and "bout" in title and title[0] == "N" and title[:5] == "Notre"
    assert title + "!" == "Notre boutique!" and "« " + title == "« Notre boutique"
    assert title.upper() == "NOTRE BOUTIQUE" and title.split() == ["Notre", "boutique"]
    assert f"{title}" == "Notre boutique" and "%s" % title == "Notre boutique" and "-".join(map(str, [title, title])) == "Notre boutique-Notre boutique"
    assert repr(title) == "'Notre boutique'" and title.message == "Our shop"
    assert sorted([_L("Our shop"), "A", "Z"]) == ["A", "Notre boutique", "Z"]
    assert bool(title) and not bool(_L("")) and _("") == ""  # not the catalog's header


def test_formatting_a_lazy_translation_is_lazy_too(shop: Shop) -> None:
    welcome = _L("Welcome, %(name)s") % {"name": "Alice"}
    at_least = _L("At least {min}, please").format(min=2)
    assert isinstance(welcome, i18n.LazyTranslation) and isinstance(at_least, i18n.LazyTranslation)
    assert (welcome, at_least) == ("Welcome, Alice", "At least 2, please")
    i18n.set_locale(shop.locale("fr"))
    assert (welcome, at_least) == ("Bienvenue, Alice", "Au moins 2, s'il vous plaît")
    assert _L("Welcome, %(name)s", name="Bob") == "Bienvenue, Bob"


@pytest.mark.parametrize("dumps, loads", [(pickle.dumps, pickle.loads), (pickling.dumps, pickling.loads)], ids=["pickle", "session pickler"])
def test_a_lazy_translation_pickles_as_its_message_and_is_translated_after(shop: Shop, dumps: Any, loads: Any) -> None:
    i18n.set_locale(shop.locale("fr"))
    lazies = [_L("Our shop"), _L("Welcome, %(name)s") % {"name": "Alice"}, _L("At least {min}, please").format(min=2), shop.module.BASKET]
    assert [str(lazy) for lazy in lazies][0] == "Notre boutique"  # translated once, in French
    data = dumps(lazies)
    assert b"Our shop" in data and b"Notre" not in data and b"Bienvenue" not in data  # never the text
    i18n.set_locale(shop.locale("en"))
    assert loads(data) == ["Our shop", "Welcome, Alice", "At least 2, please", "3 items in the basket"]
    i18n.set_locale(shop.locale("fr"))
    assert loads(data) == ["Notre boutique", "Bienvenue, Alice", "Au moins 2, s'il vous plaît", "3 articles dans le panier"]


def test_a_renderer_takes_a_lazy_translation_as_a_child_and_an_attribute(shop: Shop) -> None:
    def page() -> str:
        h = xhtml5.Renderer()
        h << h.h1(_L("Our shop"), title=_L("Welcome, %(name)s", name="Bob"))
        h << _L("Our shop")  # at top level too
        h << [h.p(_L("Our shop")), h.input(value=_L("Our shop")).error(_L("At least {min}, please").format(min=1))]
        return h.fragment(h.root)

    assert 'title="Welcome, Bob"' in page() and "<h1" in page()
    i18n.set_locale(shop.locale("fr"))
    html = page()
    assert '<h1 title="Bienvenue, Bob">Notre boutique</h1>Notre boutique<p>Notre boutique</p>' in html
    assert "<input value=\"Notre boutique\"></div><div class=\"nagare-error-message\">Au moins 1, s'il vous plaît</div>" in html
    assert "Our shop" not in html


# -- the validators' messages, through our catalog -------------------------------------------


def error_of(check: Any, *args: Any) -> Any:
    with pytest.raises(ValueError) as info:
        check(*args)
    return info.value.args[0]


def test_the_validators_messages_are_french_in_a_french_locale() -> None:
    i18n.set_locale(Locale("fr", "FR"))
    assert error_of(validator.IntValidator, "x") == "Doit être un nombre entier"
    assert error_of(validator.IntValidator("5").greater_than, 10) == "Doit être supérieur à 10"
    assert error_of(validator.IntValidator("5").lesser_or_equal_than, 4) == "Doit être inférieur ou égal à 4"
    assert error_of(validator.StringValidator("").not_empty) == "Ne peut pas être vide"
    assert error_of(validator.StringValidator("abc").shorter_than, 2) == "La longueur doit être inférieure à 2 caractères"
    assert error_of(validator.StringValidator("abc").length_equal, 2) == "La longueur doit être de 2 caractères"
    assert error_of(validator.EmailValidator, "nobody") == "Adresse électronique invalide"
    assert error_of(validator.IntValidator, 12) == "L'entrée doit être une chaîne de caractères"
    assert error_of(validator.to_int().greater_than(10), "5") == "Doit être supérieur à 10"  # a deferred chain
    i18n.set_locale(Locale("en", "US"))
    assert error_of(validator.IntValidator("5").greater_than, 10) == "Must be greater than 10"


def test_a_validator_s_message_is_translated_where_it_is_shown(shop: Shop) -> None:
    """The message is kept lazy: raised in English, shown in French, and the other way round."""
    message = error_of(validator.IntValidator("5").greater_than, 10)
    assert isinstance(message, i18n.LazyTranslation) and message == "Must be greater than 10"
    i18n.set_locale(Locale("fr"))
    assert message == "Doit être supérieur à 10" and str(ValueError(message)) == "Doit être supérieur à 10"
    own = error_of(shop.module.quantity, "0")  # the application's own message, in its catalog
    i18n.set_locale(shop.locale("fr"))
    assert own == "Au moins 1, s'il vous plaît"
    i18n.set_locale(shop.locale("en"))
    assert own == "At least 1, please"
    assert error_of(validator.IntValidator("5").greater_than, 10, "Plain {min}") == "Plain 10"  # a str stays a str


def test_an_editor_property_keeps_its_error_lazy_in_the_state() -> None:
    prop = editor.Property("x")
    prop.validate(lambda value: validator.IntValidator(value).to_int())
    prop.set("x")
    assert prop.error == "Must be an integer"
    state = pickling.loads(pickling.dumps(prop))
    i18n.set_locale(Locale("fr"))
    assert state.error == "Doit être un nombre entier"
    assert repr(state) == "Property(value='x', input='x', error='Doit être un nombre entier')"


# -- negotiation -----------------------------------------------------------------------------

LOCALES = [("en", "US"), ("en", "GB"), ("fr", None), ("pt", "BR")]


@pytest.mark.parametrize(("header", "expected"), [
    ("en-GB", ("en", "GB")),  # exact
    ("en-gb", ("en", "GB")),  # case does not matter
    ("fr", ("fr", None)),  # exact, a language alone
    ("fr-CA", ("fr", None)),  # the language alone for a territory not declared
    ("pt", ("pt", "BR")),  # the first locale of the language
    ("pt-PT", ("pt", "BR")),
    ("en", ("en", "US")),
    ("de, fr;q=0.5, en-GB;q=0.8", ("en", "GB")),  # q-values: en-GB before fr
    ("fr;q=0.5, en-GB;q=0.5", ("fr", None)),  # equal: the header's order
    ("en-GB;q=0, fr;q=0.1", ("fr", None)),  # q=0: not acceptable
    ("de, es, it", ("de", "AT")),  # none matches: the default
    ("", ("de", "AT")),  # no header
    ("*", ("en", "US")),  # anything: the first declared
    ("de, *;q=0.5", ("en", "US")),
    ("zh-Hant-TW, fr", ("fr", None)),  # a script, a territory: none declared
    ("garbage;;q=x, fr", ("fr", None)),  # a bad range is left out
])
def test_negotiation_from_accept_language(header: str, expected: tuple[str, str | None]) -> None:
    request = Request.blank("/", headers={"Accept-Language": header} if header else {})
    locale = NegotiatedLocale(request, LOCALES, default_locale=("de", "AT"))
    assert (locale.language, locale.territory) == expected
    assert i18n.negotiate(header, LOCALES, ("de", "AT")) == expected


def test_the_default_of_negotiation_is_the_first_locale_declared() -> None:
    assert i18n.negotiate("de", LOCALES) == ("en", "US")
    assert i18n.negotiate("de", []) == ("en", None)
    assert i18n.negotiate("fr-FR", ["en_US", "fr_FR"]) == ("fr", "FR")  # locales as strings too
    locale = NegotiatedLocale({"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}, [("en", None), ("fr", "FR")], dirname="/d", domain="app", timezone="Europe/Paris")
    assert (str(locale), locale.dirname, locale.domain, locale.timezone) == ("fr_FR", "/d", "app", "Europe/Paris")
    assert str(NegotiatedLocale(None, [("fr", None)], ("en", None))) == "en"
    assert i18n.parse_accept_language("da, en-gb;q=0.8, en;q=0.7") == ["da", "en-gb", "en"]


def test_a_negotiation_kept_is_the_one_of_the_same_header_locales_and_default() -> None:
    # The answers are kept per (header, locales, default): none may answer for another.
    for _attempt in range(2):
        assert NegotiatedLocale("fr", [("en", None), ("fr", None)]).language == "fr"
        assert NegotiatedLocale("fr", [("en", None), ("de", None)]).language == "en"
        assert NegotiatedLocale("fr", [("en", None), ("fr", "CA")]).territory == "CA"
        assert NegotiatedLocale("de", [("en", None), ("fr", None)]).language == "en"
        assert NegotiatedLocale("de", [("en", None), ("fr", None)], ("fr", None)).language == "fr"
        assert NegotiatedLocale("fr", (spec for spec in [("en", None), ("fr", None)])).language == "fr"  # any iterable
        assert NegotiatedLocale("fr", [["en", None], ["fr", None]]).language == "fr"  # unhashable: not kept


def test_a_negotiated_locale_pickles_as_the_locale_it_chose() -> None:
    locale = NegotiatedLocale("fr", [("fr", "FR")], dirname="/d", domain="app", timezone="Europe/Paris", default_timezone="UTC")
    again = pickling.loads(pickling.dumps(locale))
    assert type(again) is Locale and again == locale
    assert (again.dirname, again.domain, again.timezone, again.default_timezone) == ("/d", "app", "Europe/Paris", "UTC")


# -- formatting and parsing in the current locale --------------------------------------------

DAY = datetime.date(2024, 3, 1)
NOON = datetime.datetime(2024, 3, 1, 12, 30)  # naive: UTC unless default_timezone says otherwise


def test_dates_in_french_and_english() -> None:
    i18n.set_locale(Locale("fr", "FR", timezone="Europe/Paris"))
    assert i18n.format_date(DAY) == "1 mars 2024"
    assert i18n.format_date(DAY, "full") == "vendredi 1 mars 2024"
    assert i18n.format_date(DAY, "short") == "01/03/2024"
    assert i18n.format_date(DAY, "dd MMMM yyyy") == "01 mars 2024"
    assert i18n.format_datetime(NOON) == "1 mars 2024, 13:30:00"  # UTC -> Paris
    assert i18n.format_datetime(NOON, "short") == "01/03/2024 13:30"
    assert i18n.format_time(NOON) == "13:30:00"
    assert i18n.format_time(datetime.time(9, 5), "short") == "09:05"
    assert i18n.format_timedelta(datetime.timedelta(days=3)) == f"3{NBSP}jours"
    i18n.set_locale(Locale("en", "US", timezone="America/New_York"))
    assert i18n.format_date(DAY) == "Mar 1, 2024"
    assert i18n.format_date(DAY, "full") == "Friday, March 1, 2024"
    assert i18n.format_datetime(NOON, "short") == f"3/1/24, 7:30{NNBSP}AM"
    assert i18n.format_time(NOON) == f"7:30:00{NNBSP}AM"


def test_naive_datetimes_are_in_the_default_timezone() -> None:
    i18n.set_locale(Locale("en", "GB", timezone="America/New_York", default_timezone="Europe/Paris"))
    assert i18n.format_datetime(NOON, "HH:mm") == "06:30"  # 12:30 in Paris is 06:30 in New York
    assert i18n.to_utc(NOON) == datetime.datetime(2024, 3, 1, 11, 30, tzinfo=datetime.timezone.utc)
    assert i18n.to_timezone(NOON).hour == 6
    aware = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=datetime.timezone.utc)
    assert i18n.format_datetime(aware, "HH:mm zzzz") == "08:00 Eastern Daylight Time"
    i18n.set_locale(Locale("en", "GB"))  # no timezone: an aware datetime stays in its zone
    assert i18n.format_datetime(aware, "HH:mm") == "12:00"
    assert i18n.format_date(datetime.datetime(2024, 3, 1, 23, 30)) == "1 Mar 2024"
    i18n.set_locale(Locale("en", "GB", timezone="Asia/Tokyo"))  # 23:30 UTC is the 2nd in Tokyo
    assert i18n.format_date(datetime.datetime(2024, 3, 1, 23, 30)) == "2 Mar 2024"


def test_now_and_today_by_default() -> None:
    i18n.set_locale(Locale("en", "GB", timezone="Europe/Paris"))
    today = datetime.datetime.now(i18n.get_locale().tzinfo).date()
    assert i18n.format_date(format="yyyy-MM-dd") == today.isoformat()
    assert i18n.format_datetime(format="yyyy-MM-dd") == today.isoformat()
    assert len(i18n.format_time(format="HH:mm")) == 5


def test_numbers_in_french_and_english() -> None:
    i18n.set_locale(Locale("fr", "FR"))
    assert i18n.format_number(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert i18n.format_decimal(1234.5678) == f"1{NNBSP}234,568"
    assert i18n.format_decimal(1234.5678, "#,##0.00") == f"1{NNBSP}234,57"
    assert i18n.format_currency(1234.5, "EUR") == f"1{NNBSP}234,50{NBSP}€"
    assert i18n.format_currency(decimal.Decimal("9.9"), "USD") == f"9,90{NBSP}$US"
    assert i18n.format_percent(0.256) == f"26{NBSP}%"
    assert i18n.format_scientific(12345) == "1,2345E4"
    assert (i18n.get_decimal_symbol(), i18n.get_group_symbol()) == (",", NNBSP)
    assert i18n.get_currency_name("EUR") == "euro"
    i18n.set_locale(Locale("en", "US"))
    assert i18n.format_number(1234567) == "1,234,567"
    assert i18n.format_decimal(1234.5678) == "1,234.568"
    assert i18n.format_currency(1234.5, "EUR") == "€1,234.50"
    assert i18n.format_currency(1234.5, "USD") == "$1,234.50"
    assert i18n.format_percent(0.256) == "26%"
    assert i18n.format_scientific(12345) == "1.2345E4"
    assert i18n.get_currency_symbol("USD") == "$"
    assert i18n.format_list(["a", "b", "c"]) == "a, b, and c"


def test_parsing_in_french_and_english() -> None:
    i18n.set_locale(Locale("fr", "FR"))
    assert i18n.parse_date("01/03/2024") == DAY  # day first
    assert i18n.parse_date("1.3.2024", "dd.MM.yyyy") == DAY
    assert i18n.parse_time("13:30:00") == datetime.time(13, 30)
    assert i18n.parse_number(f"1{NNBSP}234") == 1234
    assert i18n.parse_decimal(f"1{NNBSP}234,5") == decimal.Decimal("1234.5")
    with pytest.raises(NumberFormatError):
        i18n.parse_decimal("1,234.5", strict=True)
    i18n.set_locale(Locale("en", "US"))
    assert i18n.parse_date("3/1/24") == DAY  # month first
    assert i18n.parse_time("1:30 PM") == datetime.time(13, 30)
    assert i18n.parse_number("1,234") == 1234
    assert i18n.parse_decimal("1,234.5") == decimal.Decimal("1234.5")


def test_names_in_the_current_locale() -> None:
    i18n.set_locale(Locale("fr", "FR", timezone="Europe/Paris"))
    assert i18n.get_month_names()[3] == "mars" and i18n.get_month_names("abbreviated")[1] == "janv."
    assert i18n.get_day_names()[0] == "lundi" and i18n.get_day_names("short")[6] == "di"
    assert i18n.get_quarter_names()[1] == "1er trimestre"
    assert i18n.get_era_names()[1] == "après Jésus-Christ"
    assert i18n.get_period_names()["evening1"] == "soir"
    assert i18n.get_timezone_name() == "heure d’Europe centrale"
    assert i18n.get_timezone_gmt(datetime.datetime(2024, 7, 1, tzinfo=datetime.timezone.utc)) == "UTC+02:00"
    i18n.set_locale(Locale("en", "US"))
    assert i18n.get_month_names()[3] == "March" and i18n.get_day_names()[0] == "Monday"
    assert i18n.get_period_names()["pm"] == "PM"
    assert i18n.get_timezone_name("Europe/Paris") == "Central European Time"
    assert i18n.get_timezone_location("Europe/Paris") == "France Time"
    assert str(i18n.get_date_format()) == "MMM d, y"


def test_intervals_skeletons_durations_and_short_forms() -> None:
    i18n.set_locale(Locale("fr", "FR", timezone="Europe/Paris"))
    nine, five = datetime.datetime(2024, 3, 1, 9), datetime.datetime(2024, 3, 1, 17)  # UTC
    assert i18n.format_interval(nine, five, "Hm") == "10:00\u2009–\u200918:00"  # in Paris
    assert i18n.format_interval(DAY, datetime.date(2024, 3, 5), "yMMMd") == "1–5 mars 2024"
    assert i18n.format_skeleton("MMMEd", nine) == "ven. 1 mars"
    assert i18n.format_timedelta(datetime.timedelta(hours=-2), add_direction=True) == "il y a 2 heures"
    assert i18n.format_compact_decimal(1234567, "long") == "1 million"
    assert i18n.format_compact_currency(1234, "EUR") == f"1{NBSP}k{NBSP}€"
    assert (i18n.get_plus_sign_symbol(), i18n.get_minus_sign_symbol(), i18n.get_exponential_symbol()) == ("+", "-", "E")
    assert (str(i18n.get_time_format()), str(i18n.get_datetime_format())) == ("HH:mm:ss", "{1}, {0}")


# -- the current locale ----------------------------------------------------------------------


def test_outside_requests_the_locale_is_english() -> None:
    assert i18n.get_locale() is i18n.DEFAULT_LOCALE and str(i18n.get_locale()) == "en"
    assert i18n.format_date(DAY) == "Mar 1, 2024"
    token = i18n.set_locale(Locale("fr"))
    assert str(i18n.get_locale()) == "fr"
    token.var.reset(token)
    assert i18n.get_locale() is i18n.DEFAULT_LOCALE
    with pytest.raises(TypeError):
        i18n.set_locale("fr")  # type: ignore[arg-type]


def test_each_thread_sees_its_own_locale() -> None:
    """A context variable: two requests served at the same time by two threads do not mix."""
    french = Locale("fr")
    i18n.set_locale(french)
    seen: list[Any] = []
    started, checked = threading.Event(), threading.Event()

    def other_request() -> None:
        seen.append(i18n.get_locale())
        i18n.set_locale(Locale("de"))
        started.set()
        checked.wait(5)
        seen.append(_("Must be an integer", domain="nagare"))

    thread = threading.Thread(target=other_request)
    thread.start()
    started.wait(5)
    assert i18n.get_locale() is french  # the other thread's set_locale did not change ours
    checked.set()
    thread.join(5)
    assert seen == [i18n.DEFAULT_LOCALE, "Must be an integer"]


def test_a_locale_pickles_as_its_arguments_not_babel_s_data() -> None:
    locale = Locale("fr", "FR", dirname="/app/locale", domain="app", timezone="Europe/Paris")
    locale.format_date(DAY)  # Babel's data loaded
    data = pickle.dumps(locale)
    assert len(data) < 300
    again = pickle.loads(data)
    assert (again, again.dirname, again.domain, again.timezone) == (locale, "/app/locale", "app", "Europe/Paris")
    assert again.format_date(DAY) == "1 mars 2024"
    parsed = Locale.parse("pt-BR", sep="-", domain="app")
    assert (type(parsed), str(parsed), parsed.domain) == (Locale, "pt_BR", "app")


# -- a locale per request through the application -------------------------------------------


class Form:
    locale = None  # the language the user picked, if any

    def __init__(self) -> None:
        self.age = editor.Property("")
        self.age.validate(validator.to_int().greater_than(0))

    def send(self) -> None:
        """The submit button: the field's action has set the property already."""

    def choose(self, language: str, territory: str | None = None) -> None:
        self.locale = Locale(language, territory)
        i18n.set_locale(self.locale)  # this request's page too (as docs/i18n.md shows)


@presentation.render_for(Form)
def render_form(self: Form, h: Any, comp: Any, model: Any) -> Any:
    with h.form:
        h << h.input(id="age", value=self.age()).action(self.age).error(self.age.error)
        h << h.input(type="submit", id="send", value="Send").action(self.send)
    h << h.a("Français", id="fr").action(self.choose, "fr", "FR")
    return h.root


class TranslatedApp(wsgi.WSGIApp):
    """The locale of each request negotiated in `start_request` (what an application can do)."""

    def start_request(self, root: Any, request: Any, response: Any) -> None:
        super().start_request(root, request, response)
        chosen = getattr(root(), "locale", None)
        i18n.set_locale(chosen or NegotiatedLocale(request, [("en", None), ("fr", "FR")]))


class Browser(WSGIClient):
    """A browser that sends its user's languages."""

    @property
    def language(self) -> str:
        return self.headers.get("Accept-Language", "")

    @language.setter
    def language(self, value: str) -> None:
        self.headers["Accept-Language"] = value


def test_a_state_s_error_is_shown_in_the_language_of_each_request() -> None:
    """The error is raised in one request, pickled in the state, shown in French then English."""
    import re

    settings = loader.check(None, Sessions.SETTINGS, {})
    app = TranslatedApp(Form, name="t", sessions=Sessions(settings, Serializer(b"k" * 32, "t"), "t"), redirect_after_post=True)
    browser = Browser(app)
    browser.language = "fr-FR,fr;q=0.9,en;q=0.5"
    page = browser.open("/t/").text
    fields = dict(re.findall(r'<input type="hidden" name="(_[sc])" value="([^"]+)"', page))
    fields[re.search(r'id="age" value="" name="([^"]+)"', page).group(1)] = "0"  # type: ignore[union-attr]
    fields[re.search(r'id="send" value="([^"]+)" name="([^"]+)"', page).group(2)] = "x"  # type: ignore[union-attr]
    answer = browser.open("/t/", post=fields)
    assert answer.status_int == 303
    shown = answer.headers["Location"].replace("http://localhost", "")
    french = browser.open(shown).text
    assert "Doit être supérieur à 0" in french and "Must be" not in french
    browser.language = "en-US"
    english = browser.open(shown).text  # the same state, reloaded from the session store
    assert "Must be greater than 0" in english and "Doit" not in english
    browser.language = "de"  # none declared: the first, English
    assert "Must be greater than 0" in browser.open(shown).text


def test_a_language_the_user_picked_is_kept_in_the_state() -> None:
    import re

    settings = loader.check(None, Sessions.SETTINGS, {})
    app = TranslatedApp(Form, name="t", sessions=Sessions(settings, Serializer(b"k" * 32, "t"), "t"))
    browser = Browser(app)
    browser.language = "en"
    page = browser.open("/t/").text
    fields = dict(re.findall(r'<input type="hidden" name="(_[sc])" value="([^"]+)"', page))
    fields[re.search(r'id="age" value="" name="([^"]+)"', page).group(1)] = "-3"  # type: ignore[union-attr]
    page = browser.open("/t/", post=fields).text
    assert "Must be greater than 0" in page
    link = re.search(r'<a [^>]*id="fr"[^>]*href="([^"]+)"', page) or re.search(r'<a [^>]*href="([^"]+)"[^>]*id="fr"', page)
    assert link is not None
    french = browser.open(link.group(1).replace("&amp;", "&")).text  # Accept-Language: en, still
    assert "Doit être supérieur à 0" in french
    again = re.search(r"_s=[0-9a-f]+&(?:amp;)?_c=\d+", french)
    assert again is not None
    assert "Doit être supérieur à 0" in browser.open("/t/?" + again.group(0).replace("&amp;", "&")).text
