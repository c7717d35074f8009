"""The publisher configuration file (`nagare-admin serve -c FILE`)."""

import logging

import pytest

from nagare.config import publisher
from nagare.errors import ConfigError
from nagare.sessions import memory


def write(tmp_path, text):
    path = tmp_path / "publisher.cfg"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_without_a_file():
    conf = publisher.read(None)
    assert conf.filename is None
    assert conf.publisher.type == "standalone"
    assert conf.publisher.host == "127.0.0.1"
    assert conf.publisher.port == 8080
    assert conf.reloader.as_dict() == {"activated": False, "interval": 1.0, "files": ()}
    assert conf.sessions == {}
    assert conf.logging.handler is None and conf.logging.logger.level is None


def test_standalone_publisher_class():
    from nagare.publishers.standalone import Publisher

    assert publisher.read(None).publisher_class is Publisher


def test_threaded_is_an_alias_of_standalone(tmp_path):
    conf = publisher.read(write(tmp_path, "[publisher]\ntype = threaded\nport = 9090\n"))
    assert conf.publisher_class is publisher.read(None).publisher_class
    assert conf.publisher.port == 9090


def test_file_values(tmp_path):
    filename = write(
        tmp_path,
        "[publisher]\nhost = 0.0.0.0\nport = 8000\n"
        "[reloader]\nactivated = on\ninterval = 0.5\nfiles = $here/a.py, $here/b.py\n"
        "[sessions]\ntype = standalone\nnb_sessions = 10\n"
        "[logging]\n[[logger]]\nlevel = DEBUG\n",
    )
    conf = publisher.read(filename)
    assert conf.publisher.host == "0.0.0.0" and conf.publisher.port == 8000
    assert conf.reloader.as_dict() == {"activated": True, "interval": 0.5, "files": (f"{tmp_path}/a.py", f"{tmp_path}/b.py")}
    assert conf.sessions == {"type": "standalone", "nb_sessions": "10"}  # raw: checked per application
    assert conf.logging.logger.level == logging.DEBUG and conf.logging.handler is None


def test_command_line_beats_the_file(tmp_path):
    filename = write(tmp_path, "[publisher]\nhost = 0.0.0.0\nport = 8000\n[reloader]\nactivated = off\n")
    conf = publisher.read(filename, {"host": "10.0.0.1", "port": "8123", "reload": True})
    assert conf.publisher.host == "10.0.0.1"
    assert conf.publisher.port == 8123
    assert conf.reloader.activated is True


def test_unset_command_line_options_leave_the_file_alone(tmp_path):
    filename = write(tmp_path, "[publisher]\nport = 8000\n[reloader]\nactivated = on\n")
    conf = publisher.read(filename, {"host": None, "port": None, "reload": None})
    assert conf.publisher.port == 8000
    assert conf.reloader.activated is True


def test_bad_command_line_port():
    with pytest.raises(ConfigError) as info:
        publisher.read(None, {"port": "http"})
    assert str(info.value) == "command line: [publisher] port = 'http': expected a whole number"


def test_unknown_section(tmp_path):
    filename = write(tmp_path, "[publisher]\n[server]\nport = 1\n")
    with pytest.raises(ConfigError) as info:
        publisher.read(filename)
    assert str(info.value).startswith(f"{filename}: [server]: unknown section")


def test_unknown_key(tmp_path):
    filename = write(tmp_path, "[publisher]\nprot = 80\n")
    with pytest.raises(ConfigError) as info:
        publisher.read(filename)
    assert str(info.value).startswith(f"{filename}: [publisher] prot: unknown key (known keys: access_log, host, port,")


def test_unknown_reloader_key(tmp_path):
    filename = write(tmp_path, "[reloader]\nactive = on\n")
    with pytest.raises(ConfigError, match=r"\[reloader\] active: unknown key"):
        publisher.read(filename)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[publisher]\nport = 70000\n", "[publisher] port = '70000': must be at most 65535"),
        ("[publisher]\nport = eighty\n", "[publisher] port = 'eighty': expected a whole number"),
        ("[reloader]\nactivated = perhaps\n", "[reloader] activated = 'perhaps': expected on/off"),
        ("[reloader]\ninterval = 0\n", "[reloader] interval = '0': must be at least 0.05"),
    ],
)
def test_bad_values(tmp_path, text, message):
    filename = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        publisher.read(filename)
    assert str(info.value).startswith(f"{filename}: {message}")


def test_unknown_publisher_type(tmp_path):
    filename = write(tmp_path, "[publisher]\ntype = gopher\n")
    with pytest.raises(ConfigError) as info:
        publisher.read(filename)
    message = str(info.value)
    assert message.startswith(f"{filename}: [publisher] type = 'gopher': unknown type (known: ")
    assert "standalone" in message and "threaded" in message


def test_unknown_sessions_type():
    with pytest.raises(ConfigError) as info:
        publisher.plugin(publisher.SESSIONS, "cassandra", "p.cfg", "sessions")
    assert str(info.value).startswith("p.cfg: [sessions] type = 'cassandra': unknown type (known: ")
    assert "pickle" in str(info.value) and "standalone" in str(info.value)


@pytest.mark.parametrize("name", ["standalone", "pickle"])
def test_sessions_types(name):
    assert publisher.plugin(publisher.SESSIONS, name, None, "sessions") is memory.Sessions


def test_missing_file(tmp_path):
    filename = str(tmp_path / "missing.cfg")
    with pytest.raises(ConfigError, match="publisher configuration file: no such file"):
        publisher.read(filename)


def test_unknown_variable(tmp_path):
    filename = write(tmp_path, "[publisher]\nhost = $hostname\n")
    with pytest.raises(ConfigError) as info:
        publisher.read(filename)
    assert str(info.value).startswith(f"{filename}: [publisher] host = '$hostname': unknown variable $hostname")


def test_keys_of_another_publisher_type_are_ignored_with_a_warning(tmp_path, caplog, monkeypatch):
    import logging

    from nagare.config import settings

    class Other:
        SETTINGS = settings.Table("publisher", [settings.Setting("minSpare", settings.integer(0), 1, "")])

    class FakeEntry:
        name, value = "other", "x:Other"

        def load(self):
            return Other

    real = publisher.entry_points

    def with_other(group):
        found = real(group)
        return {**found, "other": FakeEntry()} if group == publisher.PUBLISHERS else found

    monkeypatch.setattr(publisher, "entry_points", with_other)
    filename = write(tmp_path, "[publisher]\nminSpare = 2\n")
    with caplog.at_level(logging.WARNING, logger="nagare.publisher"):
        conf = publisher.read(filename)
    assert "minSpare" not in conf.publisher.as_dict()
    assert f"{filename}: [publisher] minSpare is ignored by the standalone publisher" in caplog.text
