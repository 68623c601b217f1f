"""One table of settings (core/config.py, OPTIONS): the command line offers what it says."""

from dataclasses import fields

import pytest

from napari_blindspot._cli_parser import build_parser, config_from_args
from napari_blindspot.core.config import OPTIONS, TrainConfig


def test_every_field_is_in_the_table_and_offered_by_both_front_ends_or_says_why():
    assert set(OPTIONS) == {f.name for f in fields(TrainConfig)}
    one_sided = {name: o for name, o in OPTIONS.items() if not (o.cli and o.widget)}
    assert all(o.why for o in one_sided.values()), [n for n, o in one_sided.items() if not o.why]


def _flags(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return {flag for action in sub._actions for flag in action.option_strings}


@pytest.mark.parametrize("command", ["denoise", "train"])
def test_the_parser_offers_every_option_the_table_gives_it(command):
    wanted = {flag for o in OPTIONS.values() if o.cli for flag in o.cli.split("/")}
    assert wanted - _flags(command) == set()


def test_options_reach_the_config_and_absent_ones_keep_its_defaults():
    args = build_parser().parse_args(["train", "in.tif", "m", "--features", "8", "--learning-rate", "0.001",
                                      "--depth", "2", "--precision", "float32", "--context-planes", "0",
                                      "--threads", "1", "--mask-percent", "2.5", "--steps", "5"])
    config = config_from_args(args, "YX", None)
    assert (config.features, config.learning_rate, config.depth, config.precision, config.context_planes,
            config.num_threads, config.mask_percent, config.steps) == (8, 0.001, 2, "float32", 0, 1, 2.5, 5)
    assert config.time_budget_s is None  # steps alone: no time cap
    default = config_from_args(build_parser().parse_args(["train", "in.tif", "m"]), None, None)
    assert default == TrainConfig(preview_every_s=None)


@pytest.mark.parametrize("flags, says", [(["--context-planes", "9"], "from 0 to 8"),
                                         (["--features", "0"], "from 1 to 256"),
                                         (["--precision", "half"], "invalid choice")])
def test_a_value_out_of_the_tables_range_is_refused_in_one_line(flags, says, capsys):
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["train", "in.tif", "m", *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(err) == 1 and says in err[0], err
