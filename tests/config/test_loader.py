"""Reading ConfigObj files: one-line errors, $here and the variables."""

import pytest

from nagare.config import loader
from nagare.config.settings import Setting, Table, integer, string
from nagare.errors import ConfigError

TABLE = Table("main", [Setting("size", integer(1), 3, "a size"), Setting("where", string, "", "a folder")])


def write(tmp_path, text, name="conf.cfg"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_here_is_the_folder_of_the_file(tmp_path):
    filename = write(tmp_path, "[main]\nwhere = $here/static\n")
    config = loader.read(filename)
    assert config.here == str(tmp_path)
    assert config.items("main") == {"where": f"{tmp_path}/static"}


def test_variables_given_to_read_and_later(tmp_path):
    filename = write(tmp_path, "[main]\nwhere = $root/$name\n[[sub]]\nwhere = ${name}x\n")
    config = loader.read(filename, {"root": "/r"})
    config.set_variables(name="app")
    assert config.items("main")["where"] == "/r/app"
    # nested sections see the variables too
    assert config.items(["main", "sub"]) == {"where": "appx"}
    assert config.subsections("main") == ["sub"]


def test_keys_of_the_file_interpolate_and_dollar_dollar_escapes(tmp_path):
    filename = write(tmp_path, "[main]\nbase = /srv\nwhere = $base/x\nprice = $$5\n")
    assert loader.read(filename).items("main") == {"base": "/srv", "where": "/srv/x", "price": "$5"}


def test_section_checks_the_file_against_the_table(tmp_path):
    filename = write(tmp_path, "[main]\nsize = 7\n")
    config = loader.read(filename)
    assert config.section(TABLE).as_dict() == {"size": 7, "where": ""}
    assert config.section(TABLE, {"size": "9"}).as_dict() == {"size": 9, "where": ""}  # CLI beats the file


def test_missing_section_gives_the_defaults(tmp_path):
    config = loader.read(write(tmp_path, "# nothing\n"))
    assert config.items("main") == {}
    assert config.subsections("main") == []
    assert config.section(TABLE).as_dict() == {"size": 3, "where": ""}
    assert not config.has_section("main")
    assert config.sections() == []


def test_unknown_key_in_a_file(tmp_path):
    filename = write(tmp_path, "[main]\nsise = 7\n")
    with pytest.raises(ConfigError) as info:
        loader.read(filename).section(TABLE)
    assert str(info.value).startswith(f"{filename}: [main] sise: unknown key")


def test_bad_value_in_a_file(tmp_path):
    filename = write(tmp_path, "[main]\nsize = 0\n")
    with pytest.raises(ConfigError) as info:
        loader.read(filename).section(TABLE)
    assert str(info.value) == f"{filename}: [main] size = '0': must be at least 1"


def test_unknown_variable_names_file_section_key_and_value(tmp_path):
    filename = write(tmp_path, "[main]\nwhere = $nowhere/static\n")
    with pytest.raises(ConfigError) as info:
        loader.read(filename).items("main")
    message = str(info.value)
    assert message.startswith(f"{filename}: [main] where = '$nowhere/static': unknown variable $nowhere")
    assert "\n" not in message


def test_unknown_variable_in_a_subsection(tmp_path):
    filename = write(tmp_path, "[main]\n[[sub]]\nkey = ${oops}\n")
    with pytest.raises(ConfigError, match=r"\[main\]\[sub\] key = '\$\{oops\}': unknown variable \$oops"):
        loader.read(filename).items(["main", "sub"])


def test_missing_file(tmp_path):
    filename = str(tmp_path / "nope.cfg")
    with pytest.raises(ConfigError) as info:
        loader.read(filename, what="publisher configuration file")
    assert str(info.value) == f"{filename}: publisher configuration file: no such file"


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        loader.read(str(tmp_path))
    assert str(info.value) == f"{tmp_path}: configuration file: is a directory"


@pytest.mark.parametrize(
    "text",
    [
        "[main]\nthis line is neither\n",
        "[main\nsize = 1\n",
        "[main]\nsize = 1\nsize = 2\n",
        "[main]\nsize = '''unterminated\n",
    ],
)
def test_syntax_error_is_one_line_naming_the_file(tmp_path, text):
    filename = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        loader.read(filename)
    message = str(info.value)
    assert message.startswith(f"{filename}: ")
    assert "line" in message
    assert "\n" not in message


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.cfg"
    path.write_bytes(b"[main]\nwhere = caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        loader.read(str(path))
    assert str(info.value).startswith(f"{path}: ")


def test_raw_value_before_the_variables_exist(tmp_path):
    filename = write(tmp_path, "[main]\nname = $name\nother = $root/x\n")
    config = loader.read(filename)
    assert config.raw("main", "name") == "$name"
    assert config.raw("main", "other") == "$root/x"
    assert config.raw("nope", "name", "default") == "default"


def test_user_default_section_is_kept_and_not_a_section(tmp_path):
    filename = write(tmp_path, "[DEFAULT]\nbase = /b\n[main]\nwhere = $base/$here\n")
    config = loader.read(filename)
    assert config.sections() == ["main"]
    assert config.items("main")["where"] == f"/b/{tmp_path}"


def test_empty_config_has_every_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = loader.empty()
    assert config.filename is None
    assert config.here == str(tmp_path)
    assert config.section(TABLE).as_dict() == {"size": 3, "where": ""}
