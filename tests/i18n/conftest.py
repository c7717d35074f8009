"""The catalogs of the fixture application, made with the real `pybabel` commands, and a current
locale that no test leaves behind."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages import pofile

from nagare import i18n

FIXTURE = Path(__file__).resolve().parent / "fixture"
PYBABEL = Path(sys.executable).with_name("pybabel")  # Babel's command, installed with it
KEYWORDS = ["-k", "_N:1,2", "-k", "_L", "-k", "_LN:1,2"]

#: The French of the fixture application, by message id (a tuple: the plural forms of a plural).
FRENCH: dict[str, str | tuple[str, str]] = {
    "Our shop": "Notre boutique",
    "Welcome, %(name)s": "Bienvenue, %(name)s",
    "At least {min}, please": "Au moins {min}, s'il vous plaît",
    "%(n)d apple": ("%(n)d pomme", "%(n)d pommes"),
    "%(n)d item in the basket": ("%(n)d article dans le panier", "%(n)d articles dans le panier"),
}


def pybabel(*args: str | Path, cwd: Path) -> str:
    """Run `pybabel args` in `cwd`; its output (a failure shows it)."""
    if not PYBABEL.exists():
        pytest.fail(f"pybabel is not installed next to {sys.executable} (pip install Babel)")
    done = subprocess.run([str(PYBABEL), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"pybabel {' '.join(map(str, args))} failed:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def translate(po: Path, translations: dict[str, str | tuple[str, str]]) -> None:
    """Write the `msgstr` of the messages of `po` found in `translations`, as a translator does."""
    with po.open("rb") as f:
        catalog = pofile.read_po(f)
    for message in catalog:
        text = translations.get(message.id if isinstance(message.id, str) else message.id[0])
        if text is None:
            continue
        if isinstance(text, tuple):
            # Every plural form of the language (French has 2 or 3 depending on the CLDR of
            # Babel): the first is the singular, the others the plural.
            singular, plural = text
            message.string = (singular,) + (plural,) * (catalog.num_plurals - 1)
        else:
            message.string = text
        message.flags.discard("fuzzy")
    with po.open("wb") as f:
        pofile.write_po(f, catalog)


@dataclass
class Shop:
    """The fixture application copied to a temporary folder, with its catalogs compiled."""

    root: Path  # the project: babel.cfg and the package
    locale_dir: Path  # the package's `locale` folder, the `dirname` of its locales
    domain: str
    module: object  # i18n_shop.views

    def locale(self, language: str, territory: str | None = None, **kw: object) -> i18n.Locale:
        return i18n.Locale(language, territory, dirname=str(self.locale_dir), domain=self.domain, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """extract -> init (fr, en) -> the translator writes French -> compile, with pybabel."""
    root = tmp_path_factory.mktemp("shop") / "project"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__"))
    locale_dir = root / "i18n_shop" / "locale"
    locale_dir.mkdir()
    pot = locale_dir / "shop.pot"
    pybabel("extract", "-F", "babel.cfg", *KEYWORDS, "-o", pot, ".", cwd=root)
    for language in ("fr", "en"):
        pybabel("init", "-i", pot, "-d", locale_dir, "-D", "shop", "-l", language, cwd=root)
    translate(locale_dir / "fr" / "LC_MESSAGES" / "shop.po", FRENCH)
    pybabel("compile", "-d", locale_dir, "-D", "shop", cwd=root)
    sys.path.insert(0, str(root))
    try:
        views = importlib.import_module("i18n_shop.views")
        yield Shop(root, locale_dir, "shop", views)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == "i18n_shop" or name.startswith("i18n_shop.")]:
            del sys.modules[name]


@pytest.fixture(autouse=True)
def no_current_locale() -> Iterator[None]:
    """Each test starts outside any request (the default locale) and leaves no locale set."""
    token = i18n._current.set(None)
    yield
    i18n._current.reset(token)
