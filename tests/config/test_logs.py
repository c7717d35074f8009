"""The `[logging]` section: its sub-sections checked against their tables when the file is read."""

import logging
import sys

import pytest

from nagare.config import application, logs, publisher
from nagare.errors import ConfigError


def app_file(tmp_path, logging_section):
    path = tmp_path / "app.cfg"
    path.write_text("[application]\npath = os:getcwd\nname = x\n" + logging_section)
    return str(path)


def publisher_file(tmp_path, logging_section):
    path = tmp_path / "publisher.cfg"
    path.write_text(logging_section)
    return str(path)


def test_no_section_changes_nothing():
    conf = logs.check(None, {})
    assert conf.logger.level is None and conf.logger.propagate is None
    assert conf.handler is None
    assert conf == logs.LoggingConfig()


def test_converted_values(tmp_path):
    filename = app_file(
        tmp_path,
        "[logging]\n[[logger]]\nlevel = warning\npropagate = on\n"
        "[[handler]]\nclass = logging.FileHandler\nargs = \"('$here/app.log', 'w')\"\nlevel = ERROR\n"
        "[[formatter]]\nformat = %(levelname)s %(message)s\ndatefmt = %H:%M\n",
    )
    conf = application.read(filename).logging
    assert conf.filename == filename
    assert (conf.logger.level, conf.logger.propagate) == (logging.WARNING, True)
    assert conf.handler is not None
    assert (conf.handler.class_, conf.handler.args, conf.handler.level) == ("logging.FileHandler", (f"{tmp_path}/app.log", "w"), logging.ERROR)
    assert (conf.formatter.format, conf.formatter.datefmt) == ("%(levelname)s %(message)s", "%H:%M")


def test_a_formatter_alone_means_the_default_handler():
    conf = logs.check("app.cfg", {"formatter": {"format": "%(message)s"}})
    assert conf.handler is not None and conf.handler.class_ == "logging.StreamHandler" and conf.handler.args == ()


def test_the_streams_by_name():
    assert logs.check(None, {"handler": {"args": "(sys.stdout,)"}}).handler.args == (sys.stdout,)
    assert logs.check(None, {"handler": {"args": ["(sys.stderr", ")"]}}).handler.args == (sys.stderr,)


def test_the_publisher_file_is_checked_when_it_is_read(tmp_path):
    filename = publisher_file(tmp_path, "[logging]\n[[logger]]\nlevel = LOUD\n")
    with pytest.raises(ConfigError) as info:
        publisher.read(filename)  # before any logger is configured: nagare-admin status too
    assert str(info.value) == f"{filename}: [logging][logger] level = 'LOUD': expected DEBUG, INFO, WARNING, ERROR or CRITICAL"


@pytest.mark.parametrize(
    "section, message",
    [
        ("[logging]\nlevel = DEBUG\n", "[logging] level: unknown key (known sub-sections: logger, handler, formatter)"),
        ("[logging]\n[[loggers]]\nlevel = DEBUG\n", "[logging] loggers: unknown key (known sub-sections: logger, handler, formatter)"),
        ("[logging]\n[[logger]]\nlvl = DEBUG\n", "[logging][logger] lvl: unknown key (known keys: level, propagate)"),
        ("[logging]\n[[logger]]\npropagate = sometimes\n", "[logging][logger] propagate = 'sometimes': expected on/off"),
        ("[logging]\n[[handler]]\nclas = x\n", "[logging][handler] clas: unknown key (known keys: args, class, level)"),
        ("[logging]\n[[handler]]\nargs = \"(open(\"\n", "[logging][handler] args = '(open(': expected a Python tuple of literals"),
        ("[logging]\n[[handler]]\nlevel = 10\n", "[logging][handler] level = '10': expected DEBUG"),
        ("[logging]\n[[formatter]]\nformat = %(nope\n", "[logging][formatter] format = '%(nope': "),
        ("[logging]\n[[formatter]]\nfmt = x\n", "[logging][formatter] fmt: unknown key (known keys: datefmt, format)"),
        ("[logging]\n[[handler]]\n[[[file]]]\nclass = x\n", "[logging][handler][file]: unexpected sub-section"),
        ("[logging]\n[[logger]]\nlevel = $nothing\n", "[logging][logger] level = '$nothing': unknown variable $nothing"),
    ],
)
def test_errors_name_the_file_the_subsection_the_key_and_the_value(tmp_path, section, message):
    for filename, read in ((app_file(tmp_path, section), application.read), (publisher_file(tmp_path, section), publisher.read)):
        with pytest.raises(ConfigError) as info:
            read(filename)
        assert str(info.value).startswith(f"{filename}: {message}")
        assert "\n" not in str(info.value)


def test_the_tables_are_the_documented_sub_sections():
    assert list(logs.SUBSECTIONS) == ["logger", "handler", "formatter"]
    assert [table.section for table in logs.SUBSECTIONS.values()] == ["logging][logger", "logging][handler", "logging][formatter"]
