"""playas.core.config: one validated loader; every bad file is one sentence naming the key and the file."""

import pytest

from playas.core.config import (anything, check_config, choice, flag, load_config, mapping_of_numbers, names,
                                number, optional, optional_text, optional_whole, subset, text, whole)
from playas.core.errors import PlayasError

SCHEMA = {
    "lr_styles": number(0),
    "epochs": whole(1),
    "note": optional_text,
    "engine": {"temperature": number(0, 100), "nodes": whole(1),
               "draw_or_resign": {"resign_enabled": flag, "resign_score": whole(None, 0)}},
    "extra": anything,
}


def write(tmp_path, body, name="recipe.yml"):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def fails(path, match, unused=()):
    with pytest.raises(PlayasError) as e:
        load_config(path, SCHEMA, "recipe", unused)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"recipe {path}: "), msg
    assert match in msg, msg
    return msg


def test_good_file_gives_checked_values_for_the_keys_present(tmp_path):
    p = write(tmp_path, "lr_styles: 1\nengine:\n  nodes: 4\n  draw_or_resign: {resign_enabled: true}\n"
                        "extra: {any: [thing]}\n")
    values, unused = load_config(p, SCHEMA, "recipe")
    assert values == {"lr_styles": 1.0, "engine": {"nodes": 4, "draw_or_resign": {"resign_enabled": True}},
                      "extra": {"any": ["thing"]}}
    assert isinstance(values["lr_styles"], float) and unused == []


def test_unknown_key_names_it_and_the_file_and_suggests_the_near_one(tmp_path):
    msg = fails(write(tmp_path, "lr_style: 0.1\n"), "unknown setting 'lr_style'; did you mean 'lr_styles'?")
    assert msg == f"recipe {tmp_path / 'recipe.yml'}: unknown setting 'lr_style'; did you mean 'lr_styles'?"
    fails(write(tmp_path, "engine:\n  temprature: 0.5\n"),
          "unknown setting 'engine.temprature'; did you mean 'engine.temperature'?")
    msg = fails(write(tmp_path, "zzz: 1\n"), "unknown setting 'zzz'")
    assert "did you mean" not in msg


def test_wrong_type_names_the_dotted_key_and_the_file(tmp_path):
    p = write(tmp_path, "lr_styles: abc\n")
    msg = fails(p, "lr_styles must be a number")
    assert msg == f"recipe {p}: lr_styles must be a number of at least 0, not 'abc'"
    fails(write(tmp_path, "engine:\n  draw_or_resign:\n    resign_score: 5\n"),
          "engine.draw_or_resign.resign_score must be a whole number of at most 0, not 5")
    fails(write(tmp_path, "epochs: true\n"), "epochs must be a whole number of at least 1, not True")


def test_a_section_must_be_a_mapping_and_an_empty_one_is_empty(tmp_path):
    fails(write(tmp_path, "engine: maia\n"), "engine must be a mapping of settings, not 'maia'")
    fails(write(tmp_path, "engine:\n  draw_or_resign: [1, 2]\n"), "engine.draw_or_resign must be a mapping")
    values, _ = load_config(write(tmp_path, "engine:\n"), SCHEMA, "recipe")
    assert values == {"engine": {}}


def test_unused_keys_of_other_tools_are_accepted_whole_and_reported(tmp_path):
    p = write(tmp_path, "polyglot:\n  enabled: false\nengine:\n  dir: ./engines\n  nodes: 2\nepochs: 3\n")
    values, unused = load_config(p, SCHEMA, "config file", unused=("polyglot", "engine.dir"))
    assert values == {"engine": {"nodes": 2}, "epochs": 3}
    assert unused == ["polyglot", "engine.dir"]
    fails(p, "unknown setting 'polyglot'")  # not declared unused: an error like any other


def test_empty_missing_and_non_mapping_files(tmp_path):
    assert load_config(write(tmp_path, ""), SCHEMA, "recipe") == ({}, [])
    with pytest.raises(PlayasError, match="^recipe .*nothing.yml does not exist$"):
        load_config(tmp_path / "nothing.yml", SCHEMA, "recipe")
    with pytest.raises(PlayasError, match="must be a mapping of settings"):
        load_config(write(tmp_path, "- a\n- b\n"), SCHEMA, "recipe")
    with pytest.raises(PlayasError, match="is not valid YAML"):
        load_config(write(tmp_path, "a: [\n"), SCHEMA, "recipe")


def test_check_config_on_data_prefixes_where():
    with pytest.raises(PlayasError, match=r"^the config: epochs must be a whole number"):
        check_config({"epochs": 0}, SCHEMA, "the config")
    assert check_config({}, SCHEMA, "x") == ({}, [])


def test_checkers():
    assert optional(number())("k", None) is None and optional(number())("k", 2) == 2.0
    assert optional_whole("k", None) is None and optional_whole("k", 3) == 3
    assert optional_text("k", "") is None and text("k", 5) == "5" and text("k", None) == ""
    assert names("k", "Tal") == ["Tal"] and names("k", None) == [] and names("k", ["a", " ", 3]) == ["a", "3"]
    assert subset("a", "b")("k", ["b"]) == ["b"] and choice("x", "y")("k", "y") == "y"
    assert mapping_of_numbers("k", {"capture_rate": 1}) == {"capture_rate": 1.0} and mapping_of_numbers("k", None) == {}
    assert anything("k", object) is object
    for check, bad, said in [(whole(1, 3), 4, "k must be a whole number from 1 to 3, not 4"),
                             (number(hi=1), 2, "k must be a number of at most 1, not 2"),
                             (flag, "yes", "k must be true or false, not 'yes'"),
                             (text, [1], "k must be text"), (names, {"a": 1}, "k must be a list of names"),
                             (choice("x", "y"), "z", "k must be one of x, y, not 'z'"),
                             (subset("a"), ["a", "c"], "k may hold only a, not 'c'"),
                             (mapping_of_numbers, {"a": "b"}, "k must map names to numbers"),
                             (optional(whole()), -1, "k must be a whole number of at least 0, not -1")]:
        with pytest.raises(PlayasError) as e:
            check("k", bad)
        assert str(e.value).startswith(said), str(e.value)


def test_the_command_line_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys):
    import argparse

    import playas.cli as cli

    p = write(tmp_path, "lr_style: 0.1\n")
    parser = argparse.ArgumentParser(prog="playas")
    parser.add_argument("--recipe")
    parser.set_defaults(func=lambda a: load_config(a.recipe, SCHEMA, "recipe") and 0)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["--recipe", str(p)]) == 2
    err = capsys.readouterr().err
    assert err == f"playas: error: recipe {p}: unknown setting 'lr_style'; did you mean 'lr_styles'?\n"
