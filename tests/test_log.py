"""The `[logging]` section of an application: nagare.application.<name>."""

import contextvars
import logging
import logging.handlers
import uuid

import pytest

from nagare import log
from nagare.config import application, logs
from nagare.errors import ConfigError


@pytest.fixture
def name():
    """A fresh application name; its logger is reset afterwards."""
    value = f"app{uuid.uuid4().hex[:8]}"
    yield value
    logger = logging.getLogger(f"nagare.application.{value}")
    for handler in logger.handlers:
        handler.close()
    logger.handlers = []


def configure(name, conf):
    """Check a [logging] section written as a dict of sub-sections, then apply it."""
    return log.configure_application(name, logs.check("app.cfg", conf))


def test_no_section_leaves_the_logger_alone(name):
    logger = configure(name, {})
    assert logger.name == f"nagare.application.{name}"
    assert logger.handlers == [] and logger.level == logging.NOTSET


def test_logger_level(name):
    logger = configure(name, {"logger": {"level": "debug"}})
    assert logger.level == logging.DEBUG
    assert configure(name, {"logger": {"level": " WARNING "}}).level == logging.WARNING


def test_handler_formatter_from_an_application_file(name, tmp_path):
    logfile = tmp_path / "app.log"
    cfg = tmp_path / "app.cfg"
    cfg.write_text(
        f"[application]\npath = os:getcwd\nname = {name}\n"
        "[logging]\n[[logger]]\nlevel = INFO\n"
        "[[handler]]\nclass = logging.FileHandler\nargs = \"('$here/app.log', 'w')\"\nlevel = WARNING\n"
        "[[formatter]]\nformat = <%(levelname)s> %(name)s %(message)s\n"
    )
    conf = application.read(str(cfg))
    logger = log.configure_application(conf.name, conf.logging)
    logger.debug("too low for the logger")
    logger.info("too low for the handler")
    logger.warning("kept")
    logger.handlers[0].flush()
    assert logfile.read_text() == f"<WARNING> nagare.application.{name} kept\n"
    assert logger.propagate is False


def test_unquoted_args_and_a_format_with_commas(name, tmp_path):
    # ConfigObj turns unquoted values with commas into lists: they are joined back
    cfg = tmp_path / "app.cfg"
    cfg.write_text(
        f"[application]\npath = os:getcwd\nname = {name}\n"
        "[logging]\n[[handler]]\nclass = logging.StreamHandler\nargs = (sys.stdout,)\n"
        "[[formatter]]\nformat = %(levelname)s, %(message)s\ndatefmt = %H:%M, %S\n"
    )
    conf = application.read(str(cfg))
    logger = log.configure_application(conf.name, conf.logging)
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    assert handler.formatter._fmt == "%(levelname)s, %(message)s"
    assert handler.formatter.datefmt == "%H:%M, %S"


def test_stream_handler_on_stderr_by_default(name, capsys):
    logger = configure(name, {"handler": {}, "formatter": {"format": "%(message)s!"}})
    logger.setLevel(logging.INFO)
    logger.info("hello")
    assert capsys.readouterr().err == "hello!\n"


def test_formatter_without_a_handler_applies_to_stderr(name, capsys):
    logger = configure(name, {"formatter": {"format": "[%(message)s]"}})
    logger.setLevel(logging.INFO)
    logger.info("x")
    assert capsys.readouterr().err == "[x]\n"


def test_dotted_handler_class_in_a_submodule(name, tmp_path):
    path = tmp_path / "rotating.log"
    logger = configure(
        name, {"handler": {"class": "logging.handlers.RotatingFileHandler", "args": f"('{path}', 'a', 1000, 2)"}}
    )
    assert isinstance(logger.handlers[0], logging.handlers.RotatingFileHandler)
    assert logger.handlers[0].maxBytes == 1000


def test_reconfiguring_replaces_the_handler(name):
    configure(name, {"handler": {}})
    logger = configure(name, {"handler": {}})
    assert len(logger.handlers) == 1


def test_propagate(name):
    assert configure(name, {"logger": {"propagate": "on"}, "handler": {}}).propagate is True
    with pytest.raises(ConfigError) as info:
        configure(name, {"logger": {"propagate": "sometimes"}})
    assert str(info.value).startswith("app.cfg: [logging][logger] propagate = 'sometimes': expected on/off")


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"logger": {"level": "LOUD"}}, "app.cfg: [logging][logger] level = 'LOUD': expected DEBUG, INFO"),
        ({"logger": {"level": "10"}}, "app.cfg: [logging][logger] level = '10': expected DEBUG"),
        ({"logger": {"lvl": "DEBUG"}}, "app.cfg: [logging][logger] lvl: unknown key"),
        ({"handler": {"level": "NOISY"}}, "app.cfg: [logging][handler] level = 'NOISY': expected DEBUG"),
        ({"handler": {"klass": "x"}}, "app.cfg: [logging][handler] klass: unknown key"),
        ({"handler": {"class": "logging.NoSuchHandler"}}, "app.cfg: [logging][handler] class = 'logging.NoSuchHandler': cannot create the handler"),
        ({"handler": {"class": "no_such_module_xyz.Handler"}}, "app.cfg: [logging][handler] class = 'no_such_module_xyz.Handler': cannot create the handler"),
        ({"handler": {"class": "os.path.join"}}, "app.cfg: [logging][handler] class = 'os.path.join': cannot create the handler"),
        ({"handler": {"class": "logging.Formatter"}}, "app.cfg: [logging][handler] class = 'logging.Formatter': cannot create the handler"),
        ({"handler": {"class": "logging.FileHandler", "args": "()"}}, "app.cfg: [logging][handler] class = 'logging.FileHandler': cannot create the handler"),
        ({"handler": {"args": "(open(",}}, "app.cfg: [logging][handler] args = '(open(': expected a Python tuple"),
        ({"handler": {}, "formatter": {"fmt": "x"}}, "app.cfg: [logging][formatter] fmt: unknown key"),
        ({"formatter": {"fmt": "x"}}, "app.cfg: [logging][formatter] fmt: unknown key"),
        ({"handler": {}, "formatter": {"format": "%(nope"}}, "app.cfg: [logging][formatter] format = '%(nope': "),
        ({"level": "DEBUG"}, "app.cfg: [logging] level: unknown key (known sub-sections: logger, handler, formatter)"),
        ({"loggers": {}}, "app.cfg: [logging] loggers: unknown key"),
    ],
)
def test_errors_name_the_subsection(name, conf, message):
    with pytest.raises(ConfigError) as info:
        configure(name, conf)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_records_are_written_by_a_background_thread_and_flushed_by_stop(capsys):
    import threading

    written = []

    class Recording(logging.Handler):
        def emit(self, record):
            written.append((record.getMessage(), threading.current_thread().name))

    handler = log.BackgroundHandler(Recording())
    logger = logging.getLogger("nagare.test.background")
    logger.addHandler(handler)
    try:
        for i in range(100):
            logger.warning("record %d", i)
        handler.stop()
        assert [m for m, _ in written] == [f"record {i}" for i in range(100)]
        assert all(name != threading.current_thread().name for _, name in written)
    finally:
        logger.removeHandler(handler)


def test_configure_default(capsys):
    logger = logging.getLogger("nagare")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers = []
    try:
        log.configure_default(logging.DEBUG)
        log.configure_default(logging.DEBUG)  # idempotent: one handler
        assert len(logger.handlers) == 1
        assert logger.level == logging.DEBUG and logger.propagate is False
        logging.getLogger("nagare.sessions").debug("to stderr")
        logger.handlers[0].stop()  # written by a background thread: wait for it
        assert "DEBUG nagare.sessions: to stderr" in capsys.readouterr().err
    finally:
        logger.handlers, logger.level, logger.propagate = saved


def test_a_forked_child_writes_its_records_too(tmp_path):
    import os

    path = tmp_path / "out.log"
    stream = open(path, "w")
    handler = log.BackgroundHandler(logging.StreamHandler(stream))
    logger = logging.getLogger("nagare.test.fork")
    logger.addHandler(handler)
    try:
        pid = os.fork()
        if pid == 0:  # the child: the writer thread did not come with the fork
            logger.warning("from the child")
            handler.stop()
            stream.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        logger.warning("from the parent")
        handler.stop()
        stream.close()
        assert sorted(path.read_text().splitlines()) == ["from the child", "from the parent"]
    finally:
        logger.removeHandler(handler)


# --- The application functions: log.info(...) writes to the current application's logger ------


class Records(logging.Handler):
    """Keeps the records of the logger it is added to."""

    def __init__(self, logger_name):
        super().__init__(logging.DEBUG)
        self.records = []
        self.logger = logging.getLogger(logger_name)

    def emit(self, record):
        self.records.append(record)

    def __enter__(self):
        self.saved = self.logger.level, self.logger.propagate
        self.logger.addHandler(self)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False  # the records stay here, whatever configured the parents
        return self.records

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.level, self.logger.propagate = self.saved


def in_request(logger_name, f):
    """Run `f` as the request cycle does: in a context where the application's logger is current."""

    def run():
        log.set_logger(logger_name)
        return f()

    return contextvars.copy_context().run(run)


def test_functions_write_to_the_current_application_logger(name):
    logger_name = f"nagare.application.{name}"

    def request():
        log.debug("d %s", 1)
        log.info("i %d", 2)
        log.warning("w")
        log.error("e %(x)s", {"x": "mapping"})
        log.critical("c", extra={"user": "bob"})
        log.log(logging.INFO, "l %s", "level")
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("boom %s", "here")

    with Records(logger_name) as records:
        in_request(logger_name, request)
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.DEBUG, "d 1"),
        (logging.INFO, "i 2"),
        (logging.WARNING, "w"),
        (logging.ERROR, "e mapping"),
        (logging.CRITICAL, "c"),
        (logging.INFO, "l level"),
        (logging.ERROR, "boom here"),
    ]
    assert records[4].user == "bob"
    assert records[6].exc_info[0] is ZeroDivisionError
    # the line is the application's, not nagare/log.py's
    assert {r.pathname for r in records} == {__file__} and records[0].funcName == "request"


def test_get_logger_names_relative_to_the_current_application(name):
    logger_name = f"nagare.application.{name}"

    def request():
        return log.get_logger(), log.get_logger("."), log.get_logger(".db"), log.get_logger("sqlalchemy")

    current, dot, relative, absolute = in_request(logger_name, request)
    assert current is dot is logging.getLogger(logger_name)
    assert relative is logging.getLogger(f"{logger_name}.db")
    assert absolute is logging.getLogger("sqlalchemy")


def test_outside_a_request_the_logger_is_nagare_application():
    def outside():
        log.warning("no application")
        return log.get_logger(), log.get_logger(".x")

    with Records("nagare.application") as records:
        # a fresh context: what a thread that never served a request sees
        current, relative = contextvars.Context().run(outside)
    assert current is logging.getLogger("nagare.application")
    assert relative is logging.getLogger("nagare.application.x")
    assert [r.getMessage() for r in records] == ["no application"]


def test_each_request_context_keeps_its_application(name):
    import threading

    seen = {}

    def serve(app):
        def request():
            barrier.wait()  # both requests have set their logger before either reads it
            seen[app] = log.get_logger().name

        in_request(f"nagare.application.{name}{app}", request)

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=serve, args=(app,)) for app in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": f"nagare.application.{name}a", "b": f"nagare.application.{name}b"}


def test_set_logger_gives_a_token_to_restore_the_previous_one(name):
    def request():
        token = log.set_logger("nagare.application.other")
        inner = log.get_logger().name
        token.var.reset(token)
        return inner, log.get_logger().name

    assert in_request(f"nagare.application.{name}", request) == ("nagare.application.other", f"nagare.application.{name}")


def test_a_fork_in_the_middle_of_a_write_leaves_the_child_a_free_stream():
    # The writer thread holds the stream's lock while it writes; a child forked then would
    # inherit the lock held, and its first write would wait for ever (a worker that never exits)
    import os
    import threading
    import time

    stream_lock = threading.Lock()
    writing = threading.Event()

    class Slow(logging.Handler):
        def emit(self, record):
            with stream_lock:
                writing.set()
                time.sleep(0.3)

    handler = log.BackgroundHandler(Slow())
    logger = logging.getLogger("nagare.test.fork-mid-write")
    logger.addHandler(handler)
    try:
        logger.warning("a long write")
        assert writing.wait(5)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if stream_lock.acquire(timeout=2) else 1)
        assert os.waitpid(pid, 0)[1] == 0, "the child inherited the stream's lock held"
        logger.warning("the parent goes on")
        handler.stop()
    finally:
        logger.removeHandler(handler)
