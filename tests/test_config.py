"""playas.core.config: settings declared once (default, checker, help), one loader for YAML and
TOML; every bad file is one sentence naming the key and the file."""

from dataclasses import dataclass

import pytest

from playas.core.config import (build, check, choice, describe, flag, load, mapping_of_numbers, names, number,
                                optional, optional_text, optional_whole, read_mapping, recipe, recipe_with, section,
                                setting, subset, text, whole)
from playas.core.errors import PlayasError


@dataclass
class DrawOrResign:
    resign_enabled: bool = setting(False, flag, "resign lost positions")
    resign_score: int = setting(-1000, whole(None, 0), "resign at or below this")


@dataclass
class Engine:
    temperature: float = setting(1.0, number(0, 100), "sampling")
    nodes: int = setting(1, whole(1), "nodes a move")
    steer: dict = setting({}, mapping_of_numbers, "steering")
    draw_or_resign: DrawOrResign = section(DrawOrResign)


@dataclass
class Settings:
    lr_styles: float = setting(0.1, number(0), "the styles' learning rate")
    epochs: int = setting(3, whole(1), "passes")
    note: str | None = setting(None, optional_text, "a note")
    holdout: list = setting([], names, "players left out")
    engine: Engine = section(Engine, "the engine")


SCHEMA = Settings


def write(tmp_path, body, name="recipe.yml"):
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def fails(path, match, unused=()):
    with pytest.raises(PlayasError) as e:
        load(path, SCHEMA, "recipe", unused)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"recipe {path}: "), msg
    assert match in msg, msg
    return msg


def test_good_file_gives_checked_values_over_the_declared_defaults(tmp_path):
    p = write(tmp_path, "lr_styles: 1\nengine:\n  nodes: 4\n  draw_or_resign: {resign_enabled: true}\n")
    values, unused = load(p, SCHEMA, "recipe")
    assert values == Settings(lr_styles=1.0, engine=Engine(nodes=4, draw_or_resign=DrawOrResign(resign_enabled=True)))
    assert isinstance(values.lr_styles, float) and unused == []
    assert values.epochs == 3 and values.engine.temperature == 1.0 and values.engine.draw_or_resign.resign_score == -1000


def test_defaults_come_from_the_declaration_fresh_each_time():
    a, b = Settings(), Settings()
    a.holdout.append("Tal")
    a.engine.steer["x"] = 1.0
    assert b.holdout == [] and b.engine.steer == {} and Settings().holdout == []
    assert ("engine.draw_or_resign.resign_score", -1000, "resign at or below this") in describe(Settings)
    assert [k for k, _, _ in describe(Settings)][:5] == ["lr_styles", "epochs", "note", "holdout", "engine.temperature"]


def test_layers_merge_once_section_by_section_and_a_mapping_setting_whole():
    s, _ = build(Settings, [({"engine": {"nodes": 2, "steer": {"a": 1}}}, "file"),
                            ({"engine": {"steer": {"b": 2}}, "epochs": 5}, "command line")])
    assert s.engine.nodes == 2 and s.engine.steer == {"b": 2.0} and s.epochs == 5  # steer replaced, not merged
    r = recipe(Settings, ({"engine": {"nodes": 2}}, "file"), ({"epochs": 4}, "command line"))
    assert r == {"lr_styles": 0.1, "epochs": 4, "note": None, "holdout": [],
                 "engine": {"temperature": 1.0, "nodes": 2, "steer": {}, "draw_or_resign":
                            {"resign_enabled": False, "resign_score": -1000}}}
    with pytest.raises(PlayasError, match="^command line: epochs must be a whole number of at least 1, not 0$"):
        recipe(Settings, ({"epochs": 2}, "file"), ({"epochs": 0}, "command line"))


def test_recipe_with_lays_the_file_then_the_flags_given(tmp_path):
    p = write(tmp_path, "epochs: 7\nholdout: Tal\n")
    r = recipe_with(p, Settings, {"epochs": None, "lr_styles": 0.5})
    assert r["epochs"] == 7 and r["lr_styles"] == 0.5 and r["holdout"] == ["Tal"]
    assert recipe_with(None, Settings, {"epochs": 2})["epochs"] == 2
    p = write(tmp_path, "epoch: 7\n")
    with pytest.raises(PlayasError, match=f"^recipe {p}: unknown setting 'epoch'; did you mean 'epochs'\\?$"):
        recipe_with(p, Settings, {})


def test_toml_is_read_by_the_same_loader(tmp_path):
    p = write(tmp_path, "epochs = 4\n[engine]\nnodes = 2\n[engine.draw_or_resign]\nresign_enabled = true\n",
              "settings.toml")
    values, _ = load(p, SCHEMA, "settings")
    assert values.epochs == 4 and values.engine.nodes == 2 and values.engine.draw_or_resign.resign_enabled
    p = write(tmp_path, "[engine]\ntemprature = 0.5\n", "settings.toml")
    with pytest.raises(PlayasError) as e:
        load(p, SCHEMA, "settings")
    assert str(e.value) == f"settings {p}: unknown setting 'engine.temprature'; did you mean 'engine.temperature'?"
    p = write(tmp_path, 'epochs = "3"\n', "settings.toml")
    with pytest.raises(PlayasError) as e:
        load(p, SCHEMA, "settings")
    assert str(e.value) == f"settings {p}: epochs must be a whole number of at least 1, not '3'"
    p = write(tmp_path, "epochs = \n", "settings.toml")
    with pytest.raises(PlayasError, match=f"^settings {p} is not valid TOML \\(.+\\)$"):
        load(p, SCHEMA, "settings")


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
    values, _ = load(write(tmp_path, "engine:\n"), SCHEMA, "recipe")
    assert values == Settings()


def test_unused_keys_of_other_tools_are_accepted_whole_and_reported(tmp_path):
    p = write(tmp_path, "polyglot:\n  enabled: false\nengine:\n  dir: ./engines\n  nodes: 2\nepochs: 3\n")
    values, unused = load(p, SCHEMA, "config file", unused=("polyglot", "engine.dir"))
    assert values == Settings(engine=Engine(nodes=2), epochs=3)
    assert unused == ["polyglot", "engine.dir"]
    fails(p, "unknown setting 'polyglot'")  # not declared unused: an error like any other


def test_empty_missing_and_non_mapping_files(tmp_path):
    assert load(write(tmp_path, ""), SCHEMA, "recipe") == (Settings(), []) and read_mapping(write(tmp_path, ""), "r") == {}
    with pytest.raises(PlayasError, match="^recipe .*nothing.yml does not exist$"):
        load(tmp_path / "nothing.yml", SCHEMA, "recipe")
    with pytest.raises(PlayasError, match="must be a mapping of settings"):
        load(write(tmp_path, "- a\n- b\n"), SCHEMA, "recipe")
    with pytest.raises(PlayasError, match="is not valid YAML"):
        load(write(tmp_path, "a: [\n"), SCHEMA, "recipe")


def test_check_on_data_prefixes_where():
    with pytest.raises(PlayasError, match=r"^the config: epochs must be a whole number"):
        check(SCHEMA, {"epochs": 0}, "the config")
    assert check(SCHEMA, {}, "x") == ({}, [])


def test_checkers():
    assert optional(number())("k", None) is None and optional(number())("k", 2) == 2.0
    assert optional_whole("k", None) is None and optional_whole("k", 3) == 3
    assert optional_text("k", "") is None and text("k", 5) == "5" and text("k", None) == ""
    assert names("k", "Tal") == ["Tal"] and names("k", None) == [] and names("k", ["a", " ", 3]) == ["a", "3"]
    assert subset("a", "b")("k", ["b"]) == ["b"] and choice("x", "y")("k", "y") == "y"
    assert mapping_of_numbers("k", {"capture_rate": 1}) == {"capture_rate": 1.0} and mapping_of_numbers("k", None) == {}
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
    parser.set_defaults(func=lambda a: load(a.recipe, SCHEMA, "recipe") and 0)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["--recipe", str(p)]) == 2
    err = capsys.readouterr().err
    assert err == f"playas: error: recipe {p}: unknown setting 'lr_style'; did you mean 'lr_styles'?\n"


@pytest.mark.parametrize("command, body, said", [
    (["chess", "train-base"], "net:\n  filter: 32\n", "unknown setting 'net.filter'; did you mean 'net.filters'?"),
    (["chess", "train-styles", "--base", "b.pt"], "lr_style: 0.1\n",
     "unknown setting 'lr_style'; did you mean 'lr_styles'?"),
    (["chess", "train-styles", "--base", "b.pt"], "mhr: {heads: two}\n",
     "mhr.heads must be a whole number of at least 1, not 'two'"),
    (["rocket", "train-base"], "net: {previous_action: 1}\n", "net.previous_action must be true or false, not 1"),
    (["rocket", "train-styles", "--base", "b.pt"], "min_game: 2\n",
     "unknown setting 'min_game'; did you mean 'min_games'?"),
])
def test_a_bad_recipe_through_the_real_command_line_is_one_line(tmp_path, capsys, command, body, said):
    """The recipe is read before any data: a typo or a wrong type ends the command at once."""
    import playas.cli as cli

    p = write(tmp_path, body)
    rc = cli.main([*command, "--data", str(tmp_path / "nodata"), "--out", str(tmp_path / "m.pt"), "--recipe", str(p)])
    err = capsys.readouterr().err
    assert rc == 2 and err == f"playas: error: recipe {p}: {said}\n", err


def test_a_bad_flag_over_a_recipe_is_one_line(tmp_path, capsys):
    import playas.cli as cli

    with pytest.raises(SystemExit) as e:  # refused by the flag's own type, before the recipe is read
        cli.main(["chess", "train-base", "--data", str(tmp_path), "--out", str(tmp_path / "m.pt"), "--epochs", "0"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err == ("playas chess train-base: error: argument --epochs: '0' is less than 1 "
                                         "(--help shows the usage)\n"), err
