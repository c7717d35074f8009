"""Object references: `python mod:obj`, bare `mod:obj`, `file /path/x.py:obj`, `app`, `egg`."""

import os.path
import pickle
import sys

import pytest

from nagare.config import reference
from nagare.errors import ObjectReferenceError


def one_line_error(ref):
    with pytest.raises(ObjectReferenceError) as info:
        reference.load(ref)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_python_reference():
    assert reference.load("python os.path:join") is os.path.join


def test_bare_reference():
    assert reference.load("os.path:join") is os.path.join
    assert reference.load("  os.path:join  ") is os.path.join


def test_dotted_attribute():
    assert reference.load("python os:path.join") is os.path.join
    assert reference.load("collections:OrderedDict.fromkeys") == __import__("collections").OrderedDict.fromkeys


def test_missing_module():
    assert one_line_error("python no_such_module_xyz:obj") == "'python no_such_module_xyz:obj': no module named 'no_such_module_xyz'"
    assert "no module named 'no_such_module_xyz'" in one_line_error("no_such_module_xyz.sub:obj")


def test_missing_attribute():
    assert one_line_error("python os:nothing_here") == "'python os:nothing_here': no 'nothing_here' in it"
    assert one_line_error("os:path.nothing") == "'os:path.nothing': no 'path.nothing' in it"


@pytest.mark.parametrize("ref", ["python os", "os", "python :join", "python os:", "file /tmp/x.py"])
def test_malformed(ref):
    assert "expected <" in one_line_error(ref)


@pytest.mark.parametrize("kind", ["python", "file", "app", "egg"])
def test_nothing_after_the_kind(kind):
    assert one_line_error(kind) == f"'{kind}': nothing after '{kind}'"


def test_unknown_kind():
    assert one_line_error("module os:path") == "'module os:path': unknown reference kind 'module' (app, egg, python or file)"


def test_app_and_egg_unknown():
    assert one_line_error("app no_such_app_xyz") == "'app no_such_app_xyz': no application 'no_such_app_xyz' is registered"
    assert "no distribution 'no_such_dist_xyz' is installed" in one_line_error("egg no_such_dist_xyz:app")
    assert "'nagare' registers no application 'nothing'" in one_line_error("egg nagare:nothing")


def test_module_that_fails_to_import(tmp_path, monkeypatch):
    (tmp_path / "broken_mod_xyz.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "raising_mod_xyz.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    message = one_line_error("python broken_mod_xyz:x")
    # a module that exists but imports a missing one is not reported as missing itself
    assert message == (
        "'python broken_mod_xyz:x' cannot be imported: ModuleNotFoundError: No module named 'no_such_dependency_xyz'"
    )
    assert one_line_error("raising_mod_xyz:x") == "'raising_mod_xyz:x' cannot be imported: RuntimeError: boom"
    for name in ("broken_mod_xyz", "raising_mod_xyz"):
        sys.modules.pop(name, None)


# --- file references ---------------------------------------------------------------------------


APP_SOURCE = '''
class Root:
    def __init__(self):
        self.n = 1

    class Inner:
        pass


def factory():
    return Root()
'''


def test_file_reference(tmp_path):
    path = tmp_path / "my-app.py"
    path.write_text(APP_SOURCE)
    Root = reference.load(f"file {path}:Root")
    assert Root().n == 1
    assert reference.load(f"file {path}:Root.Inner") is Root.Inner
    # the module is loaded once, under a stable name
    assert reference.load(f"file {path}:factory").__module__ == Root.__module__
    assert Root.__module__.startswith("nagare_file_my_app_")
    assert sys.modules[Root.__module__].__file__ == str(path)


def test_file_objects_pickle_by_reference(tmp_path):
    path = tmp_path / "picklable.py"
    path.write_text(APP_SOURCE)
    Root = reference.load(f"file {path}:Root")
    factory = reference.load(f"file {path}:factory")
    data = pickle.dumps((Root, factory, Root(), Root.Inner))
    assert Root.__name__.encode() in data and b"self.n" not in data  # by reference, not by value
    root_class, function, instance, inner = pickle.loads(data)
    assert root_class is Root and function is factory and inner is Root.Inner
    assert isinstance(instance, Root) and instance.n == 1


def test_same_stem_in_two_folders_are_two_modules(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "app.py").write_text("value = 'a'\n")
    (tmp_path / "b" / "app.py").write_text("value = 'b'\n")
    assert reference.load(f"file {tmp_path}/a/app.py:value") == "a"
    assert reference.load(f"file {tmp_path}/b/app.py:value") == "b"


def test_relative_file_path(tmp_path, monkeypatch):
    (tmp_path / "rel_app.py").write_text("value = 42\n")
    monkeypatch.chdir(tmp_path)
    assert reference.load("file rel_app.py:value") == 42


def test_missing_file(tmp_path):
    path = tmp_path / "nope.py"
    assert one_line_error(f"file {path}:x") == f"'file {path}:x': no such file {path}"


def test_missing_attribute_in_a_file(tmp_path):
    path = tmp_path / "empty_app.py"
    path.write_text("")
    assert one_line_error(f"file {path}:App") == f"'file {path}:App': no 'App' in it"


def test_syntax_error_in_a_file(tmp_path):
    path = tmp_path / "bad_syntax.py"
    path.write_text("x = 1\ndef f(:\n    pass\n")
    message = one_line_error(f"file {path}:f")
    assert message.startswith(f"'file {path}:f' cannot be loaded: syntax error in {path}, line 2:")
    # a failed load leaves nothing behind: fixing the file then works
    assert not [name for name in sys.modules if name.startswith("nagare_file_bad_syntax_")]
    path.write_text("def f():\n    return 'fixed'\n")
    assert reference.load(f"file {path}:f")() == "fixed"


def test_exception_in_a_file(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text("raise ValueError('no database')\n")
    assert one_line_error(f"file {path}:x") == f"'file {path}:x' cannot be loaded: ValueError: no database"


def test_multi_line_exception_message_is_still_one_line(tmp_path):
    path = tmp_path / "raises_lines.py"
    path.write_text("raise ValueError('first line\\nsecond line')\n")
    assert one_line_error(f"file {path}:x").endswith("ValueError: first line second line")


def test_entry_points_first_wins():
    commands = reference.entry_points("nagare.commands")
    assert {"serve", "info", "create-rules", "create-app"} <= set(commands)
    assert all(entry.group == "nagare.commands" for entry in commands.values())
