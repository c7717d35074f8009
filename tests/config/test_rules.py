"""Rules across keys: part of the table, checked after conversion, reported with every key."""

import pytest

from nagare.config import loader, publisher, settings
from nagare.config.rules import COMMAND_LINE, Rule, RuleError, at_most
from nagare.config.settings import Setting, Table, integer, string
from nagare.errors import ConfigError
from tests.support.plugins import register_publisher

# The FastCGI pool's sizes: minSpare <= maxSpare <= maxChildren
POOL = Table(
    "publisher",
    [
        Setting("minSpare", integer(0), 1, "more workers when fewer are idle"),
        Setting("maxSpare", integer(1), 5, "idle workers above it are retired"),
        Setting("maxChildren", integer(1), 50, "most workers at once"),
    ],
    rules=[at_most("minSpare", "maxSpare"), at_most("maxSpare", "maxChildren")],
)


def broken(filename, found, overrides=None, table=POOL):
    with pytest.raises(RuleError) as info:
        loader.check(filename, table, found, overrides)
    message = str(info.value)
    assert "\n" not in message
    return info.value


def test_values_that_keep_the_rules():
    assert loader.check("p.conf", POOL, {"minSpare": "5", "maxSpare": "5", "maxChildren": "5"}).maxSpare == 5
    assert loader.check("p.conf", POOL, {"minSpare": "0"}).minSpare == 0


def test_both_keys_in_the_file():
    error = broken("publisher.conf", {"minSpare": "6", "maxSpare": "5"})
    assert str(error) == "publisher.conf: [publisher] minSpare = 6, maxSpare = 5: minSpare must not exceed maxSpare"
    assert isinstance(error, ConfigError)
    assert (error.filename, error.section, error.keys, error.values) == ("publisher.conf", "publisher", ("minSpare", "maxSpare"), (6, 5))
    assert (error.key, error.value, error.reason) == ("minSpare", 6, "minSpare must not exceed maxSpare")


def test_a_key_at_its_default_is_marked():
    error = broken("publisher.conf", {"minSpare": "6"})
    assert str(error) == "publisher.conf: [publisher] minSpare = 6, maxSpare = 5 (default): minSpare must not exceed maxSpare"
    error = broken("publisher.conf", {"maxChildren": "3"})
    assert str(error) == "publisher.conf: [publisher] maxSpare = 5 (default), maxChildren = 3: maxSpare must not exceed maxChildren"


def test_the_first_broken_rule_is_reported():
    error = broken("p.conf", {"minSpare": "2", "maxSpare": "8", "maxChildren": "3"})
    assert error.keys == ("maxSpare", "maxChildren")  # minSpare <= maxSpare holds
    error = broken("p.conf", {"minSpare": "9", "maxSpare": "8", "maxChildren": "1"})
    assert error.reason == "minSpare must not exceed maxSpare"  # both broken: in the order of the table


def test_a_command_line_value_is_marked_and_the_file_named():
    error = broken("publisher.conf", {"maxSpare": "5"}, {"minSpare": "6"})
    assert str(error) == "publisher.conf: [publisher] minSpare = 6 (command line), maxSpare = 5: minSpare must not exceed maxSpare"
    assert error.filename == "publisher.conf"


def test_only_command_line_and_defaults_name_the_command_line():
    error = broken("publisher.conf", {}, {"minSpare": "6"})
    assert str(error) == "command line: [publisher] minSpare = 6, maxSpare = 5 (default): minSpare must not exceed maxSpare"
    error = broken(None, {}, {"minSpare": "6", "maxSpare": "5"})
    assert str(error) == "command line: [publisher] minSpare = 6, maxSpare = 5: minSpare must not exceed maxSpare"
    assert error.filename == COMMAND_LINE


def test_a_command_line_value_that_fixes_the_file_wins():
    assert loader.check("p.conf", POOL, {"minSpare": "6"}, {"maxSpare": "6", "minSpare": None}).maxSpare == 6


def test_a_bad_value_is_reported_before_any_rule():
    with pytest.raises(ConfigError) as info:
        loader.check("p.conf", POOL, {"minSpare": "many", "maxSpare": "0"})
    assert not isinstance(info.value, RuleError)
    assert str(info.value) == "p.conf: [publisher] minSpare = 'many': expected a whole number"


def test_values_from_two_files_name_each_other():
    # an application's [sessions] overriding the publisher's: the rule names the file of each key
    sources = [("publisher.cfg", {"maxSpare": "4"}), ("app.cfg", {"minSpare": "6"})]
    with pytest.raises(RuleError) as info:
        loader.merge(POOL, sources)
    assert str(info.value) == "app.cfg: [publisher] minSpare = 6, maxSpare = 4 (publisher.cfg): minSpare must not exceed maxSpare"
    assert loader.merge(POOL, [("publisher.cfg", {"minSpare": "6"}), ("app.cfg", {"maxSpare": "7"})]).maxSpare == 7


def test_a_rule_of_any_number_of_keys_with_its_own_reason():
    table = Table(
        "listen",
        [Setting("host", string, "", "host"), Setting("port", integer(0), 0, "port"), Setting("socket", string, "", "socket")],
        rules=[Rule(("host", "port", "socket"), lambda host, port, socket: not (socket and (host or port)), "socket replaces host and port: give one or the other")],
    )
    assert loader.check("l.cfg", table, {"socket": "/tmp/s"}).socket == "/tmp/s"
    error = broken("l.cfg", {"socket": "/tmp/s", "port": "80"}, table=table)
    assert str(error) == "l.cfg: [listen] host = '' (default), port = 80, socket = '/tmp/s': socket replaces host and port: give one or the other"


def test_at_most_leaves_unset_values_alone():
    table = Table("t", [Setting("low", integer(), None, ""), Setting("high", integer(), 3, "")], rules=[at_most("low", "high")])
    assert loader.check(None, table, {}).low is None
    with pytest.raises(RuleError, match=r"^<configuration>: \[t\] low = 4, high = 3 \(default\): low must not exceed high$"):
        loader.check(None, table, {"low": "4"})


def test_a_rule_is_checked_through_a_file(tmp_path):
    path = tmp_path / "publisher.conf"
    path.write_text("[publisher]\nminSpare = 6\nmaxSpare = 5\n")
    with pytest.raises(RuleError) as info:
        loader.read(str(path)).section(POOL)
    assert str(info.value) == f"{path}: [publisher] minSpare = 6, maxSpare = 5: minSpare must not exceed maxSpare"


def test_a_table_refuses_a_rule_on_a_key_it_lacks():
    with pytest.raises(ValueError, match=r"\[publisher\] rule 'maxSpare must not exceed maxChild': no key maxChild"):
        Table("publisher", POOL.values(), rules=[at_most("maxSpare", "maxChild")])
    with pytest.raises(ValueError, match="names no key"):
        Rule((), lambda: True, "nothing")


# --- a publisher type with rules, through publisher.read and the command line -------------------


@pytest.fixture
def ruled_publisher(monkeypatch):
    """A publisher type `ruled` whose table has the pool rules and a rule on `port`."""

    class Ruled:
        SETTINGS = settings.Table(
            "publisher",
            [Setting("type", string, "ruled", ""), Setting("host", string, "", ""), Setting("port", integer(0), 9000, ""),
             Setting("status", integer(0), 9001, ""), *POOL.values()],
            rules=[*POOL.rules, Rule(("port", "status"), lambda port, status: port != status, "the status needs a port of its own")],
        )

    register_publisher(monkeypatch, "ruled", Ruled)
    return Ruled


def test_publisher_read_checks_the_rules(tmp_path, ruled_publisher):
    path = tmp_path / "publisher.conf"
    path.write_text("[publisher]\ntype = ruled\nminSpare = 6\nmaxSpare = 5\n")
    with pytest.raises(RuleError) as info:
        publisher.read(str(path))
    assert str(info.value) == f"{path}: [publisher] minSpare = 6, maxSpare = 5: minSpare must not exceed maxSpare"


def test_publisher_read_names_the_command_line_override(tmp_path, ruled_publisher):
    path = tmp_path / "publisher.conf"
    path.write_text("[publisher]\ntype = ruled\nstatus = 8000\n")
    with pytest.raises(RuleError) as info:
        publisher.read(str(path), {"host": None, "port": "8000", "reload": None})
    assert str(info.value) == f"{path}: [publisher] port = 8000 (command line), status = 8000: the status needs a port of its own"
    assert publisher.read(str(path), {"port": "8002"}).publisher.port == 8002
