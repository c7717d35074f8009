"""The framework's own catalog (domain `nagare`, in src/nagare/locale): its template is what
`pybabel extract` finds in the framework's code, every language translates all of it with the same
placeholders, the compiled `.mo` files are those of the `.po` files, and they are package data."""

from __future__ import annotations

import ast
import gettext
import glob
import re
import tomllib
from pathlib import Path

import pytest
from babel.messages import pofile
from babel.messages.catalog import Catalog

from nagare import i18n
from tests.i18n.conftest import pybabel

SRC = Path(i18n.__file__).resolve().parent  # src/nagare
LOCALE = SRC / "locale"
POT = LOCALE / "nagare.pot"
LANGUAGES = ("en", "fr")
ROOT = SRC.parent.parent
#: How the template is made (docs/i18n.md says it too), the modules' paths added.
EXTRACT = ["extract", "--no-default-keywords", "-k", "_L", "-k", "_LN:1,2", "--add-location=file", "--sort-by-file"]
TRANSLATING = {"_", "_N", "_L", "_LN", "ugettext", "ungettext", "gettext", "ngettext", "lazy_ugettext", "lazy_ungettext", "lazy_gettext", "lazy_ngettext"}


def read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return pofile.read_po(f)


def framework_messages() -> dict[str, list[str]]:
    """The message ids given with `domain='nagare'` in the framework's code, and where."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TRANSLATING):
                continue
            domains = [k.value for k in node.keywords if k.arg == "domain"]
            if not (domains and isinstance(domains[0], ast.Constant) and domains[0].value == i18n.NAGARE_DOMAIN):
                continue
            assert node.func.id in ("_L", "_LN"), f"{path}:{node.lineno}: the framework's messages are lazy (_L, _LN), made at import"
            first = node.args[0] if node.args else None
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), f"{path}:{node.lineno}: a literal message"
            found.setdefault(first.value, []).append(str(path.relative_to(ROOT)))
    return found


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\([a-z_]+\)[a-z]|\{[a-z_]*\}", text))


def test_every_message_of_the_framework_is_in_the_template() -> None:
    used = framework_messages()
    assert "Must be an integer" in used and len(used) >= 20  # the validators'
    template = {message.id for message in read(POT) if message.id}
    assert sorted(set(used) - template) == [], "messages missing from nagare.pot: run the extract of docs/i18n.md"
    assert sorted(template - set(used)) == [], "messages of nagare.pot no longer used: run the extract of docs/i18n.md"


def test_the_template_is_what_pybabel_extract_makes(tmp_path: Path) -> None:
    modules = sorted({path for paths in framework_messages().values() for path in paths})
    fresh = tmp_path / "nagare.pot"
    pybabel(*EXTRACT, "-o", fresh, *modules, cwd=ROOT)

    def essentials(catalog: Catalog) -> list[tuple[object, ...]]:
        return sorted((str(m.id), sorted(m.flags), sorted({path for path, _ in m.locations})) for m in catalog if m.id)

    assert essentials(read(POT)) == essentials(read(fresh))


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_language_translates_every_message_with_the_same_placeholders(language: str) -> None:
    po = LOCALE / language / "LC_MESSAGES" / "nagare.po"
    catalog = read(po)
    assert catalog.locale is not None and str(catalog.locale) == language
    template = {message.id for message in read(POT) if message.id}
    messages = {message.id: message for message in catalog if message.id}
    assert set(messages) == template, f"{po}: run `pybabel update` (docs/i18n.md)"
    assert not catalog.obsolete
    for msgid, message in messages.items():
        assert message.string, f"{po}: {msgid!r} is not translated"
        assert not message.fuzzy, f"{po}: {msgid!r} is fuzzy"
        assert placeholders(message.string) == placeholders(msgid), f"{po}: {msgid!r} -> {message.string!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogs_are_those_of_the_po_files(language: str, tmp_path: Path) -> None:
    po = LOCALE / language / "LC_MESSAGES" / "nagare.po"
    shipped = po.with_suffix(".mo")
    fresh = tmp_path / "nagare.mo"
    pybabel("compile", "-i", po, "-o", fresh, "-l", language, cwd=tmp_path)

    def messages(path: Path) -> dict[object, str]:
        with path.open("rb") as f:
            return {k: v for k, v in gettext.GNUTranslations(f)._catalog.items() if k != ""}  # type: ignore[attr-defined]

    assert messages(shipped) == messages(fresh), f"{shipped} is not the compiled {po.name}: run `pybabel compile` (docs/i18n.md)"
    assert len(messages(shipped)) == len([m for m in read(po) if m.id])


def test_french_comes_from_the_shipped_catalog() -> None:
    i18n.clear_catalogs()
    french = i18n.Locale("fr", "BE")
    assert french.ugettext("Must be lesser than {max}", domain=i18n.NAGARE_DOMAIN) == "Doit être inférieur à {max}"
    assert i18n.Locale("en", "AU").ugettext("Must be an integer", domain=i18n.NAGARE_DOMAIN) == "Must be an integer"


def test_the_catalogs_are_package_data() -> None:
    """setuptools globs each pattern of [tool.setuptools.package-data] in the package's folder."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = [p for key in ("*", "nagare") for p in config["tool"]["setuptools"].get("package-data", {}).get(key, [])]
    included = {Path(path).resolve() for pattern in patterns for path in glob.glob(str(SRC / pattern), recursive=True)}
    catalogs = sorted(path for path in LOCALE.rglob("*") if path.suffix in (".pot", ".po", ".mo"))
    assert len(catalogs) == 1 + 2 * len(LANGUAGES)
    missing = [str(path.relative_to(SRC)) for path in catalogs if path not in included]
    assert missing == [], (
        "catalogs left out of the wheel: add to pyproject.toml's [tool.setuptools.package-data] \"*\": "
        '"locale/*.pot", "locale/*/LC_MESSAGES/*.po", "locale/*/LC_MESSAGES/*.mo"'
    )
