"""Translations and locale-aware formatting, over Babel, with Nagare 0.5's names.

    from nagare.i18n import _, _N, _L, format_date

    _('Hello')                                   # translated in the current locale
    _('Hello %(name)s', name='Alice')            # then interpolated with `%`
    _N('%(n)d apple', '%(n)d apples', n, n=n)    # plural forms of the current locale
    _L('Hello')                                  # lazy: translated when converted to str
    format_date(date(2024, 3, 1), 'long')        # '1 mars 2024' in French

- The *current locale* (`get_locale()`) is a `Locale`: a Babel locale that also knows where its
  catalogs are (`dirname`, `domain`) and the timezone of the user. It is set per request
  (`set_locale()`, a context variable); outside requests it is `DEFAULT_LOCALE` (English).
- Catalogs are gettext `.mo` files `<dirname>/<language>/LC_MESSAGES/<domain>.mo`, made with
  Babel's `pybabel` commands (docs/i18n.md). They are loaded once per process (`Translations.load`)
  and cached per (dirname, domain, locale). A missing catalog translates nothing: the message
  itself is shown.
- The framework's own messages (the validators') are in the domain `nagare`: the catalog in this
  package's `locale/` folder, which an application's `<dirname>/<language>/LC_MESSAGES/nagare.mo`
  overrides message by message.
- A lazy translation (`_L`, `_LN`) keeps the message, not its translation: it is translated each
  time it is converted to a string, in the locale current then. It pickles (it lives in component
  states) and a renderer accepts it as a child and as an attribute value.
- `format_*`, `parse_*` and `get_*` are Babel's functions applied with the current locale; dates
  are shown in the locale's timezone.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import gettext as _gettext
import operator
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Literal

import babel
from babel import dates, lists, numbers
from babel.support import Translations

from nagare import presentation

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_LOCALE",
    "NAGARE_DOMAIN",
    "LazyTranslation",
    "Locale",
    "NegotiatedLocale",
    "_",
    "_L",
    "_LN",
    "_N",
    "clear_catalogs",
    "get_locale",
    "gettext",
    "lazy_gettext",
    "lazy_ngettext",
    "lazy_ugettext",
    "lazy_ungettext",
    "negotiate",
    "ngettext",
    "parse_accept_language",
    "set_locale",
    "ugettext",
    "ungettext",
]

#: The domain of the framework's own messages (the validators').
NAGARE_DOMAIN = "nagare"
#: The folder of the framework's catalogs.
NAGARE_DIRNAME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "locale")
#: The domain of an application's messages when its locale names none: Babel's default, the one
#: `pybabel` commands use without `-D`.
DEFAULT_DOMAIN = "messages"

Number = float | decimal.Decimal | str
Width = Literal["abbreviated", "narrow", "wide"]
DayWidth = Literal["abbreviated", "narrow", "short", "wide"]
Context = Literal["format", "stand-alone"]

# -- Catalogs ---------------------------------------------------------------------------------

# (dirname, domain, locale identifier) -> translations. Filled on first use, never emptied but by
# `clear_catalogs()`: catalogs are part of the code of a release.
_catalogs: dict[tuple[str | None, str, str], _gettext.NullTranslations] = {}
_catalogs_lock = threading.Lock()
# (dirname, domain, language, territory, script, variant, modifier) -> the `_catalogs` entry:
# what `Locale.translations` finds for every message without making the locale's identifier
# ('fr_FR', Babel's `str(locale)`, ~1 µs) each time. Emptied with `_catalogs`.
_by_parts: dict[tuple[str | None, ...], _gettext.NullTranslations] = {}


def _load(dirname: str, domain: str, identifier: str) -> _gettext.NullTranslations | None:
    """The catalog `<dirname>/<identifier>/LC_MESSAGES/<domain>.mo` (or the language's), if any.

    gettext's search: 'fr_CA' looks for 'fr_CA' then 'fr'.
    """
    found = Translations.load(dirname, [identifier], domain)
    return found if isinstance(found, Translations) else None


def catalog(dirname: str | None, domain: str, identifier: str) -> _gettext.NullTranslations:
    """The translations of `domain` for the locale `identifier` ('fr_FR'), from `dirname`.

    For the domain `nagare`, an application's catalog (when `dirname` has one) falls back to the
    framework's, message by message. No catalog found: a `NullTranslations` (nothing translated).
    """
    key = (dirname, domain, identifier)
    found = _catalogs.get(key)
    if found is not None:
        return found
    with _catalogs_lock:
        found = _catalogs.get(key)
        if found is None:
            found = _catalogs[key] = _make_catalog(dirname, domain, identifier)
    return found


def _make_catalog(dirname: str | None, domain: str, identifier: str) -> _gettext.NullTranslations:
    own = _load(dirname, domain, identifier) if dirname is not None else None
    if domain != NAGARE_DOMAIN:
        return own if own is not None else _gettext.NullTranslations()
    ours = _load(NAGARE_DIRNAME, NAGARE_DOMAIN, identifier)
    if own is None:
        return ours if ours is not None else _gettext.NullTranslations()
    if ours is not None:
        own.add_fallback(ours)  # `own` is a fresh object, cached only as this combination
    return own


def clear_catalogs() -> None:
    """Forget the catalogs loaded: the next translations read the `.mo` files again."""
    with _catalogs_lock:
        _catalogs.clear()
        _by_parts.clear()


# -- Locales ----------------------------------------------------------------------------------

UTC = datetime.timezone.utc


def _localize(tz: datetime.tzinfo, value: datetime.datetime) -> datetime.datetime:
    """The naive `value` as a time of the zone `tz` (pytz zones have their own way)."""
    localize: Callable[[datetime.datetime], datetime.datetime] | None = getattr(tz, "localize", None)
    return localize(value) if localize is not None else value.replace(tzinfo=tz)


class Locale(babel.Locale):
    """A Babel locale, where its catalogs are, and the timezone of the dates it shows.

    - `language`, `territory`, `script`, `variant`: those of `babel.Locale` ('fr', 'FR', ...);
      Babel must know the locale (else `babel.UnknownLocaleError`);
    - `dirname`: the folder of the application's catalogs, `<dirname>/<language>/LC_MESSAGES/
      <domain>.mo` (None: the application has none; the framework's messages are translated all
      the same);
    - `domain`: the application's domain (None: `DEFAULT_DOMAIN`, 'messages');
    - `timezone`: the zone the dates are shown in (a name, 'Europe/Paris', or a tzinfo; None: no
      conversion, an aware datetime is shown in its own zone);
    - `default_timezone`: the zone of the naive datetimes given to the `format_*` methods (None:
      UTC, Babel's convention).

    The attributes may be changed after creation (an application fills `dirname` and `domain` of
    the locales it is given). Two locales are equal when Babel's parts are, whatever their
    catalogs. A locale pickles as its arguments.
    """

    def __init__(
        self,
        language: str = "en",
        territory: str | None = None,
        script: str | None = None,
        variant: str | None = None,
        dirname: str | None = None,
        domain: str | None = None,
        timezone: str | datetime.tzinfo | None = None,
        default_timezone: str | datetime.tzinfo | None = None,
    ) -> None:
        super().__init__(language, territory, script, variant)
        self.dirname = dirname
        self.domain = domain
        self.timezone = timezone
        self.default_timezone = default_timezone

    @classmethod
    def parse(  # Babel's, with our keyword arguments
        cls,
        identifier: babel.Locale | str | None,
        sep: str = "_",
        resolve_likely_subtags: bool = True,
        *,
        dirname: str | None = None,
        domain: str | None = None,
        timezone: str | datetime.tzinfo | None = None,
        default_timezone: str | datetime.tzinfo | None = None,
    ) -> Self:
        """The locale of the identifier `identifier` ('fr_FR', 'fr-FR' with `sep='-'`), as Babel parses it."""
        parsed = babel.Locale.parse(identifier, sep, resolve_likely_subtags)
        return cls(
            parsed.language,
            parsed.territory,
            parsed.script,
            parsed.variant,
            dirname=dirname,
            domain=domain,
            timezone=timezone,
            default_timezone=default_timezone,
        )

    def _arguments(self) -> tuple[Any, ...]:
        return (
            self.language,
            self.territory,
            self.script,
            self.variant,
            self.dirname,
            self.domain,
            self.timezone,
            self.default_timezone,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Its arguments, never Babel's data that the locale loaded.
        return (type(self), self._arguments())

    # -- translation ----------------------------------------------------------------------------

    def translations(self, domain: str | None = None) -> _gettext.NullTranslations:
        """The gettext translations of `domain` (None: the locale's own domain) for this locale."""
        domain = domain or self.domain or DEFAULT_DOMAIN
        # Looked up by the parts of the identifier, as they are now: the attributes may change.
        key = (self.dirname, domain, self.language, self.territory, self.script, self.variant, self.modifier)
        found = _by_parts.get(key)
        if found is None:
            found = catalog(self.dirname, domain, str(self))
            with _catalogs_lock:  # not kept if `clear_catalogs()` ran meanwhile
                if _catalogs.get((self.dirname, domain, str(self))) is found:
                    _by_parts[key] = found
        return found

    def ugettext(self, msg: str, /, domain: str | None = None, **kw: object) -> str:
        """`msg` translated, then interpolated with `kw` (`%`) when there are some."""
        # '' is the catalog's header for gettext: an empty message stays empty
        text = self.translations(domain).gettext(msg) if msg else msg
        return text % kw if kw else text

    gettext = ugettext

    def ungettext(self, singular: str, plural: str, n: int, /, domain: str | None = None, **kw: object) -> str:
        """The plural form of `singular`/`plural` for `n` in this locale, then interpolated with `kw`."""
        text = self.translations(domain).ngettext(singular, plural, n)
        return text % kw if kw else text

    ngettext = ungettext

    # -- timezones ------------------------------------------------------------------------------

    @property
    def tzinfo(self) -> datetime.tzinfo | None:
        """The zone the dates are shown in (None: not converted)."""
        return None if self.timezone is None else dates.get_timezone(self.timezone)

    @property
    def default_tzinfo(self) -> datetime.tzinfo:
        """The zone of the naive datetimes (UTC when `default_timezone` is None)."""
        return UTC if self.default_timezone is None else dates.get_timezone(self.default_timezone)

    def to_timezone(self, value: datetime.datetime) -> datetime.datetime:
        """`value` as an aware datetime of the locale's timezone.

        A naive `value` is taken to be in `default_timezone`. Without `timezone`, the aware
        datetime stays in its zone.
        """
        if value.tzinfo is None:
            value = _localize(self.default_tzinfo, value)
        tz = self.tzinfo
        return value if tz is None else value.astimezone(tz)

    def to_utc(self, value: datetime.datetime) -> datetime.datetime:
        """`value` as an aware UTC datetime (a naive one is in `default_timezone`)."""
        if value.tzinfo is None:
            value = _localize(self.default_tzinfo, value)
        return value.astimezone(UTC)

    def _now(self) -> datetime.datetime:
        return datetime.datetime.now(self.tzinfo or UTC)

    # -- dates ----------------------------------------------------------------------------------

    def format_date(self, value: datetime.date | None = None, format: str = "medium") -> str:
        """A date ('full', 'long', 'medium', 'short' or a pattern); a datetime is first put in the
        locale's timezone; None: today."""
        if value is None:
            value = self._now()
        if isinstance(value, datetime.datetime):
            value = self.to_timezone(value).date()
        return dates.format_date(value, format, locale=self)

    def format_time(self, value: datetime.time | datetime.datetime | None = None, format: str = "medium") -> str:
        """A time; a datetime is first put in the locale's timezone; None: now."""
        if value is None:
            value = self._now()
        if isinstance(value, datetime.datetime):
            value = self.to_timezone(value)
            return dates.format_time(value, format, tzinfo=value.tzinfo, locale=self)
        return dates.format_time(value, format, locale=self)

    def format_datetime(self, value: datetime.datetime | None = None, format: str = "medium") -> str:
        """A date and time, in the locale's timezone; None: now."""
        value = self._now() if value is None else self.to_timezone(value)
        return dates.format_datetime(value, format, tzinfo=value.tzinfo, locale=self)

    def format_timedelta(
        self,
        delta: datetime.timedelta | int,
        granularity: Literal["year", "month", "week", "day", "hour", "minute", "second"] = "second",
        threshold: float = 0.85,
        add_direction: bool = False,
        format: Literal["narrow", "short", "medium", "long"] = "long",
    ) -> str:
        """A duration in words ('3 days'); see `babel.dates.format_timedelta`."""
        return dates.format_timedelta(delta, granularity, threshold, add_direction, format, locale=self)

    def format_interval(
        self, start: datetime.date | datetime.time, end: datetime.date | datetime.time, skeleton: str | None = None, fuzzy: bool = True
    ) -> str:
        """An interval between two dates or times; see `babel.dates.format_interval`."""
        if isinstance(start, datetime.datetime) and isinstance(end, datetime.datetime):
            start, end = self.to_timezone(start), self.to_timezone(end)
        return dates.format_interval(start, end, skeleton, locale=self, fuzzy=fuzzy)

    def format_skeleton(self, skeleton: str, value: datetime.datetime | None = None, fuzzy: bool = True) -> str:
        """A datetime in the locale's closest format to `skeleton` ('MMMEd'); None: now."""
        value = self._now() if value is None else self.to_timezone(value)
        return dates.format_skeleton(skeleton, value, value.tzinfo, fuzzy, locale=self)

    def parse_date(self, string: str, format: str = "medium") -> datetime.date:
        """The date written `string` in this locale (the order of its fields from `format`)."""
        if format == "medium":  # Babel's default, and Babel 2.12 has no `format`
            return dates.parse_date(string, locale=self)
        return dates.parse_date(string, locale=self, format=format)

    def parse_time(self, string: str, format: str = "medium") -> datetime.time:
        """The time written `string` in this locale."""
        if format == "medium":
            return dates.parse_time(string, locale=self)
        return dates.parse_time(string, locale=self, format=format)

    def get_period_names(self, width: Width = "wide", context: Context = "stand-alone") -> Mapping[str, str]:
        """The names of the day periods ('am', 'pm'...)."""
        return dates.get_period_names(width, context, self)

    def get_day_names(self, width: DayWidth = "wide", context: Context = "format") -> Mapping[int, str]:
        """The names of the days of the week, 0 for Monday."""
        return dates.get_day_names(width, context, self)

    def get_month_names(self, width: Width = "wide", context: Context = "format") -> Mapping[int, str]:
        """The names of the months, 1 for January."""
        return dates.get_month_names(width, context, self)

    def get_quarter_names(self, width: Width = "wide", context: Context = "format") -> Mapping[int, str]:
        """The names of the quarters, 1 to 4."""
        return dates.get_quarter_names(width, context, self)

    def get_era_names(self, width: Literal["abbreviated", "narrow", "wide"] = "wide") -> Mapping[int, str]:
        """The names of the eras, 0 before Christ, 1 after."""
        return dates.get_era_names(width, self)

    def get_date_format(self, format: Literal["full", "long", "medium", "short"] = "medium") -> dates.DateTimePattern:
        """The pattern of the dates of `format`."""
        return dates.get_date_format(format, self)

    def get_datetime_format(self, format: Literal["full", "long", "medium", "short"] = "medium") -> dates.DateTimePattern | str:
        """The pattern combining a date and a time of `format`."""
        return dates.get_datetime_format(format, self)

    def get_time_format(self, format: Literal["full", "long", "medium", "short"] = "medium") -> dates.DateTimePattern:
        """The pattern of the times of `format`."""
        return dates.get_time_format(format, self)

    def get_timezone_gmt(
        self, datetime: datetime.datetime | None = None, width: Literal["long", "short", "iso8601", "iso8601_short"] = "long", return_z: bool = False
    ) -> str:
        """The GMT offset of `datetime` ('GMT+01:00'); None: now in the locale's timezone."""
        value = self._now() if datetime is None else self.to_timezone(datetime)
        return dates.get_timezone_gmt(value, width, self, return_z)

    def get_timezone_location(self, dt_or_tzinfo: datetime.datetime | datetime.tzinfo | str | None = None, return_city: bool = False) -> str:
        """The place of a timezone ('France Time'); None: the locale's timezone (UTC without one)."""
        return dates.get_timezone_location(self._zone(dt_or_tzinfo), self, return_city)

    def get_timezone_name(
        self,
        dt_or_tzinfo: datetime.datetime | datetime.tzinfo | str | None = None,
        width: Literal["long", "short"] = "long",
        uncommon: bool = False,
        zone_variant: Literal["generic", "daylight", "standard"] | None = None,
        return_zone: bool = False,
    ) -> str:
        """The name of a timezone ('Central European Time'); None: the locale's timezone."""
        return dates.get_timezone_name(self._zone(dt_or_tzinfo), width, uncommon, self, zone_variant, return_zone)

    def _zone(self, dt_or_tzinfo: datetime.datetime | datetime.tzinfo | str | None) -> datetime.datetime | datetime.tzinfo:
        if dt_or_tzinfo is None:
            return self.tzinfo or UTC
        if isinstance(dt_or_tzinfo, str):
            return dates.get_timezone(dt_or_tzinfo)
        return dt_or_tzinfo

    # -- numbers --------------------------------------------------------------------------------

    def format_number(self, number: Number) -> str:
        """A number with the locale's separators ('1 234,5' in French)."""
        return numbers.format_decimal(number, locale=self)

    def format_decimal(self, number: Number, format: str | None = None, **kw: Any) -> str:
        """A decimal number (`format`: a pattern, '#,##0.##'); `kw`: Babel's options."""
        return numbers.format_decimal(number, format, self, **kw)

    def format_compact_decimal(self, number: Number, format_type: Literal["short", "long"] = "short", fraction_digits: int = 0) -> str:
        """A number in short ('1,2 k')."""
        return numbers.format_compact_decimal(number, format_type=format_type, locale=self, fraction_digits=fraction_digits)

    def format_currency(self, number: Number, currency: str, format: str | None = None, **kw: Any) -> str:
        """An amount of `currency` (ISO 4217: 'EUR'); `kw`: Babel's options."""
        return numbers.format_currency(number, currency, format, self, **kw)

    def format_compact_currency(self, number: Number, currency: str, format_type: Literal["short"] = "short", fraction_digits: int = 0) -> str:
        """An amount of `currency` in short."""
        return numbers.format_compact_currency(number, currency, format_type=format_type, locale=self, fraction_digits=fraction_digits)

    def format_percent(self, number: Number, format: str | None = None, **kw: Any) -> str:
        """A ratio as a percentage (0.25: '25 %' in French)."""
        return numbers.format_percent(number, format, self, **kw)

    def format_scientific(self, number: Number, format: str | None = None, **kw: Any) -> str:
        """A number in scientific notation ('1,234E3')."""
        return numbers.format_scientific(number, format, self, **kw)

    def parse_number(self, string: str) -> int:
        """The integer written `string` in this locale (`babel.numbers.NumberFormatError` if not)."""
        return numbers.parse_number(string, self)

    def parse_decimal(self, string: str, strict: bool = False) -> decimal.Decimal:
        """The decimal number written `string` in this locale (`NumberFormatError` if not)."""
        return numbers.parse_decimal(string, self, strict)

    def get_currency_name(self, currency: str, count: float | decimal.Decimal | None = None) -> str:
        """The name of `currency` ('euro'), of its plural form for `count`."""
        return numbers.get_currency_name(currency, count, self)

    def get_currency_symbol(self, currency: str) -> str:
        """The symbol of `currency` ('€')."""
        return numbers.get_currency_symbol(currency, self)

    def get_decimal_symbol(self) -> str:
        """The decimal separator."""
        return numbers.get_decimal_symbol(self)

    def get_group_symbol(self) -> str:
        """The thousands separator."""
        return numbers.get_group_symbol(self)

    def get_plus_sign_symbol(self) -> str:
        return numbers.get_plus_sign_symbol(self)

    def get_minus_sign_symbol(self) -> str:
        return numbers.get_minus_sign_symbol(self)

    def get_exponential_symbol(self) -> str:
        return numbers.get_exponential_symbol(self)

    def format_list(self, items: Sequence[str], style: Literal["standard", "standard-short", "or", "or-short", "unit", "unit-short", "unit-narrow"] = "standard") -> str:
        """Items joined as a sentence does ('a, b et c')."""
        return lists.format_list(items, style, self)


# -- Negotiation ------------------------------------------------------------------------------

_RANGE = re.compile(r"\s*(\*|[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*)\s*(?:;\s*[qQ]\s*=\s*([0-9]+(?:\.[0-9]*)?))?\s*")

LocaleSpec = tuple[str, str | None] | str


def parse_accept_language(header: str | None) -> list[str]:
    """The language tags of an `Accept-Language` header, preferred first (q=0 and bad ranges
    left out; equal qualities in the header's order)."""
    ranges: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        match = _RANGE.fullmatch(part)
        if match is None:
            continue
        tag, q = match.groups()
        try:
            quality = 1.0 if q is None else float(q)
        except ValueError:
            continue
        if quality > 0:
            ranges.append((-min(quality, 1.0), position, tag))
    return [tag for _, _, tag in sorted(ranges)]


def _split_tag(tag: str) -> tuple[str, str | None]:
    """(language, territory) of a tag: 'fr-CA' -> ('fr', 'CA'), 'zh-Hant-TW' -> ('zh', 'TW')."""
    parts = re.split("[-_]", tag)
    for part in parts[1:]:
        if (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            return parts[0].lower(), part.upper()
    return parts[0].lower(), None


def _spec(locale: LocaleSpec) -> tuple[str, str | None]:
    if isinstance(locale, str):
        return _split_tag(locale)
    language, territory = locale
    return language, territory


def negotiate(
    accept_language: str | None, locales: Iterable[LocaleSpec], default_locale: tuple[str | None, str | None] = (None, None)
) -> tuple[str, str | None]:
    """The (language, territory) of `locales` (as declared) that an `Accept-Language` header prefers.

    For each language the user accepts, best first: the locale of the same language and
    territory; for a tag with a territory ('fr-CA'), the locale of the language alone ('fr');
    then the first locale of the language ('fr', 'FR'). `*` takes the first locale. None matches:
    `default_locale`; when its language is None, the first of `locales` (English without any).
    """
    declared = [_spec(locale) for locale in locales]
    keys = [(language.lower(), territory.upper() if territory else None) for language, territory in declared]
    for tag in parse_accept_language(accept_language):
        if tag == "*":
            if declared:
                return declared[0]
            continue
        language, territory = _split_tag(tag)
        for wanted in ((language, territory), (language, None)):
            if wanted in keys:
                return declared[keys.index(wanted)]
        for index, (other, _) in enumerate(keys):
            if other == language:
                return declared[index]
    if default_locale[0] is not None:
        return default_locale[0], default_locale[1]
    return declared[0] if declared else ("en", None)


@functools.lru_cache(maxsize=256)  # the headers come from the clients: bounded
def _negotiate_cached(
    accept_language: str | None, locales: tuple[LocaleSpec, ...], default_locale: tuple[str | None, str | None]
) -> tuple[str, str | None]:
    return negotiate(accept_language, locales, default_locale)


def _negotiate(
    accept_language: str | None, locales: tuple[LocaleSpec, ...], default_locale: tuple[str | None, str | None]
) -> tuple[str, str | None]:
    """`negotiate`, its answers kept per (header, locales, default): a request's locale is
    negotiated among the same few, for the same few headers. (`negotiate` depends on its
    arguments alone, and these are immutable once hashable.)"""
    try:
        return _negotiate_cached(accept_language, locales, default_locale)
    except TypeError:  # an unhashable argument (a list for a locale): not kept
        return negotiate(accept_language, locales, default_locale)


def _accept_language(request: object) -> str | None:
    """The `Accept-Language` of a WebOb request, of a WSGI environ, or the header itself."""
    if request is None or isinstance(request, str):
        return request
    environ = getattr(request, "environ", request)
    if isinstance(environ, Mapping):
        value = environ.get("HTTP_ACCEPT_LANGUAGE")
        return value if isinstance(value, str) else None
    raise TypeError(f"not a request nor a WSGI environ: {request!r}")


class NegotiatedLocale(Locale):
    """The locale among `locales` that the request's `Accept-Language` prefers (see `negotiate`).

    `request`: a WebOb request, a WSGI environ or the header's value; `locales`: (language,
    territory) pairs, territory None for a language alone (or strings, 'fr_FR'); the other
    arguments are `Locale`'s. It pickles as the `Locale` it negotiated.
    """

    def __init__(
        self,
        request: object,
        locales: Iterable[LocaleSpec],
        default_locale: tuple[str | None, str | None] = (None, None),
        dirname: str | None = None,
        domain: str | None = None,
        timezone: str | datetime.tzinfo | None = None,
        default_timezone: str | datetime.tzinfo | None = None,
    ) -> None:
        language, territory = _negotiate(_accept_language(request), tuple(locales), default_locale)
        super().__init__(language, territory, None, None, dirname, domain, timezone, default_timezone)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Locale, self._arguments())


#: The locale outside requests, and of a request the application gave none.
DEFAULT_LOCALE = Locale("en")

_current: ContextVar[Locale | None] = ContextVar("nagare.i18n.locale", default=None)


def get_locale() -> Locale:
    """The current locale: the request's, `DEFAULT_LOCALE` outside requests."""
    locale = _current.get()
    return DEFAULT_LOCALE if locale is None else locale


def set_locale(locale: Locale) -> Token[Locale | None]:
    """Make `locale` the current one for the rest of the request (the current context).

    The token returned restores the previous one: `token.var.reset(token)`.
    """
    if not isinstance(locale, Locale):
        raise TypeError(f"not a nagare.i18n.Locale: {locale!r}")
    return _current.set(locale)


# -- Translation ------------------------------------------------------------------------------


def ugettext(msg: str, /, domain: str | None = None, **kw: object) -> str:
    """`msg` translated in the current locale, then interpolated with `kw` (`%`) if given."""
    return get_locale().ugettext(msg, domain, **kw)


def ungettext(singular: str, plural: str, n: int, /, domain: str | None = None, **kw: object) -> str:
    """The form of `singular`/`plural` for `n` in the current locale, then interpolated with `kw`."""
    return get_locale().ungettext(singular, plural, n, domain, **kw)


_ = gettext = ugettext
_N = ngettext = ungettext

#: One step applied to the translated text: `function(text, *args, **kw)`.
Step = tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]


class LazyTranslation:
    """A message translated each time it is converted to a string, in the locale current then.

    It behaves as the string it is translated to (comparisons, hash, `len`, `in`, indexing, `+`
    and the methods of `str`, all evaluated at once); `lazy % values` and `lazy.format(...)` are
    lazy too. It pickles as its message and arguments (never the translated text), and it renders
    as its text (a view of `nagare.presentation`).
    """

    __slots__ = ("_message", "_plural", "_n", "_domain", "_kw", "_steps")

    def __init__(
        self,
        message: str,
        plural: str | None = None,
        n: int = 1,
        domain: str | None = None,
        kw: dict[str, object] | None = None,
        steps: tuple[Step, ...] = (),
    ) -> None:
        self._message = message
        self._plural = plural
        self._n = n
        self._domain = domain
        self._kw = kw or {}
        self._steps = steps

    def __str__(self) -> str:
        locale = get_locale()
        if self._plural is None:
            text = locale.ugettext(self._message, self._domain, **self._kw)
        else:
            text = locale.ungettext(self._message, self._plural, self._n, self._domain, **self._kw)
        for function, args, kw in self._steps:
            text = str(function(text, *args, **kw))
        return text

    def apply(self, function: Callable[..., object], /, *args: Any, **kw: Any) -> LazyTranslation:
        """A lazy translation whose text is `function(text, *args, **kw)`: `function` is pickled
        with it (by reference: a function of a module)."""
        return LazyTranslation(self._message, self._plural, self._n, self._domain, self._kw, (*self._steps, (function, args, kw)))

    def __mod__(self, values: object) -> LazyTranslation:
        return self.apply(operator.mod, values)

    def format(self, *args: Any, **kw: Any) -> LazyTranslation:
        return self.apply(str.format, *args, **kw)

    @property
    def message(self) -> str:
        """The message, untranslated."""
        return self._message

    def __reduce__(self) -> tuple[Any, ...]:
        return (LazyTranslation, (self._message, self._plural, self._n, self._domain, self._kw or None, self._steps))

    def __copy__(self) -> LazyTranslation:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> LazyTranslation:
        return self

    def __repr__(self) -> str:
        return repr(str(self))

    def __html__(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return str(self) == (str(other) if isinstance(other, LazyTranslation) else other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __lt__(self, other: object) -> bool:
        text = _text(other)
        return str(self) < text if isinstance(text, str) else NotImplemented

    def __le__(self, other: object) -> bool:
        text = _text(other)
        return str(self) <= text if isinstance(text, str) else NotImplemented

    def __gt__(self, other: object) -> bool:
        text = _text(other)
        return str(self) > text if isinstance(text, str) else NotImplemented

    def __ge__(self, other: object) -> bool:
        text = _text(other)
        return str(self) >= text if isinstance(text, str) else NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __len__(self) -> int:
        return len(str(self))

    def __bool__(self) -> bool:
        return bool(str(self))

    def __contains__(self, item: object) -> bool:
        text = _text(item)
        if not isinstance(text, str):
            raise TypeError(f"'in <string>' requires string as left operand, not {type(item).__name__}")
        return text in str(self)

    def __getitem__(self, index: int | slice) -> str:
        return str(self)[index]

    def __add__(self, other: object) -> str:
        text = _text(other)
        return str(self) + text if isinstance(text, str) else NotImplemented

    def __radd__(self, other: object) -> str:
        text = _text(other)
        return text + str(self) if isinstance(text, str) else NotImplemented

    def __mul__(self, n: int) -> str:
        return str(self) * n

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # pickle, copy and friends ask for what a string has not
            raise AttributeError(name)
        return getattr(str(self), name)


def _text(value: object) -> object:
    return str(value) if isinstance(value, LazyTranslation) else value


@presentation.render_for(LazyTranslation)
def _render(self: LazyTranslation, h: object, comp: object, model: object) -> str:
    return str(self)


def lazy_ugettext(msg: str, /, domain: str | None = None, **kw: object) -> LazyTranslation:
    """`ugettext(msg, domain, **kw)` done each time the result is converted to a string."""
    return LazyTranslation(msg, None, 1, domain, kw)


def lazy_ungettext(singular: str, plural: str, n: int, /, domain: str | None = None, **kw: object) -> LazyTranslation:
    """`ungettext(singular, plural, n, domain, **kw)` done each time the result is converted to a string."""
    return LazyTranslation(singular, plural, n, domain, kw)


_L = lazy_gettext = lazy_ugettext
_LN = lazy_ngettext = lazy_ungettext


# -- Formatting with the current locale -------------------------------------------------------


def format_date(value: datetime.date | None = None, format: str = "medium") -> str:
    return get_locale().format_date(value, format)


def format_time(value: datetime.time | datetime.datetime | None = None, format: str = "medium") -> str:
    return get_locale().format_time(value, format)


def format_datetime(value: datetime.datetime | None = None, format: str = "medium") -> str:
    return get_locale().format_datetime(value, format)


def format_timedelta(
    delta: datetime.timedelta | int,
    granularity: Literal["year", "month", "week", "day", "hour", "minute", "second"] = "second",
    threshold: float = 0.85,
    add_direction: bool = False,
    format: Literal["narrow", "short", "medium", "long"] = "long",
) -> str:
    return get_locale().format_timedelta(delta, granularity, threshold, add_direction, format)


def format_interval(
    start: datetime.date | datetime.time, end: datetime.date | datetime.time, skeleton: str | None = None, fuzzy: bool = True
) -> str:
    return get_locale().format_interval(start, end, skeleton, fuzzy)


def format_skeleton(skeleton: str, value: datetime.datetime | None = None, fuzzy: bool = True) -> str:
    return get_locale().format_skeleton(skeleton, value, fuzzy)


def parse_date(string: str, format: str = "medium") -> datetime.date:
    return get_locale().parse_date(string, format)


def parse_time(string: str, format: str = "medium") -> datetime.time:
    return get_locale().parse_time(string, format)


def get_period_names(width: Width = "wide", context: Context = "stand-alone") -> Mapping[str, str]:
    return get_locale().get_period_names(width, context)


def get_day_names(width: DayWidth = "wide", context: Context = "format") -> Mapping[int, str]:
    return get_locale().get_day_names(width, context)


def get_month_names(width: Width = "wide", context: Context = "format") -> Mapping[int, str]:
    return get_locale().get_month_names(width, context)


def get_quarter_names(width: Width = "wide", context: Context = "format") -> Mapping[int, str]:
    return get_locale().get_quarter_names(width, context)


def get_era_names(width: Literal["abbreviated", "narrow", "wide"] = "wide") -> Mapping[int, str]:
    return get_locale().get_era_names(width)


def get_date_format(format: Literal["full", "long", "medium", "short"] = "medium") -> dates.DateTimePattern:
    return get_locale().get_date_format(format)


def get_datetime_format(format: Literal["full", "long", "medium", "short"] = "medium") -> dates.DateTimePattern | str:
    return get_locale().get_datetime_format(format)


def get_time_format(format: Literal["full", "long", "medium", "short"] = "medium") -> dates.DateTimePattern:
    return get_locale().get_time_format(format)


def get_timezone_gmt(
    datetime: datetime.datetime | None = None, width: Literal["long", "short", "iso8601", "iso8601_short"] = "long", return_z: bool = False
) -> str:
    return get_locale().get_timezone_gmt(datetime, width, return_z)


def get_timezone_location(dt_or_tzinfo: datetime.datetime | datetime.tzinfo | str | None = None, return_city: bool = False) -> str:
    return get_locale().get_timezone_location(dt_or_tzinfo, return_city)


def get_timezone_name(
    dt_or_tzinfo: datetime.datetime | datetime.tzinfo | str | None = None,
    width: Literal["long", "short"] = "long",
    uncommon: bool = False,
    zone_variant: Literal["generic", "daylight", "standard"] | None = None,
    return_zone: bool = False,
) -> str:
    return get_locale().get_timezone_name(dt_or_tzinfo, width, uncommon, zone_variant, return_zone)


def to_timezone(value: datetime.datetime) -> datetime.datetime:
    return get_locale().to_timezone(value)


def to_utc(value: datetime.datetime) -> datetime.datetime:
    return get_locale().to_utc(value)


def format_number(number: Number) -> str:
    return get_locale().format_number(number)


def format_decimal(number: Number, format: str | None = None, **kw: Any) -> str:
    return get_locale().format_decimal(number, format, **kw)


def format_compact_decimal(number: Number, format_type: Literal["short", "long"] = "short", fraction_digits: int = 0) -> str:
    return get_locale().format_compact_decimal(number, format_type, fraction_digits)


def format_currency(number: Number, currency: str, format: str | None = None, **kw: Any) -> str:
    return get_locale().format_currency(number, currency, format, **kw)


def format_compact_currency(number: Number, currency: str, format_type: Literal["short"] = "short", fraction_digits: int = 0) -> str:
    return get_locale().format_compact_currency(number, currency, format_type, fraction_digits)


def format_percent(number: Number, format: str | None = None, **kw: Any) -> str:
    return get_locale().format_percent(number, format, **kw)


def format_scientific(number: Number, format: str | None = None, **kw: Any) -> str:
    return get_locale().format_scientific(number, format, **kw)


def parse_number(string: str) -> int:
    return get_locale().parse_number(string)


def parse_decimal(string: str, strict: bool = False) -> decimal.Decimal:
    return get_locale().parse_decimal(string, strict)


def get_currency_name(currency: str, count: float | decimal.Decimal | None = None) -> str:
    return get_locale().get_currency_name(currency, count)


def get_currency_symbol(currency: str) -> str:
    return get_locale().get_currency_symbol(currency)


def get_decimal_symbol() -> str:
    return get_locale().get_decimal_symbol()


def get_group_symbol() -> str:
    return get_locale().get_group_symbol()


def get_plus_sign_symbol() -> str:
    return get_locale().get_plus_sign_symbol()


def get_minus_sign_symbol() -> str:
    return get_locale().get_minus_sign_symbol()


def get_exponential_symbol() -> str:
    return get_locale().get_exponential_symbol()


def format_list(items: Sequence[str], style: Literal["standard", "standard-short", "or", "or-short", "unit", "unit-short", "unit-narrow"] = "standard") -> str:
    return get_locale().format_list(items, style)
