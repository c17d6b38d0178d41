"""``suite run`` flags: the ones that define a run default to None, each parses to its type."""

import argparse

import pytest

from suite.commands.run_arguments import add_arguments, add_cell_arguments

DEFINING = (
    "models",
    "tasks",
    "seq_lens",
    "train_len",
    "eval_lens",
    "lrs",
    "match",
    "perf_seq_lens",
    "perf_repeats",
    "tf32",
    "kinds",
    "seeds",
    "preset",
    "overrides",
    "config",
    "plugin",
    "device",
    "threads",
    "isolation",
    "cell_timeout",
    "mem_limit",
    "find_max_len",
    "max_len_start",
    "max_len_limit",
)


def parser():
    made = argparse.ArgumentParser()
    add_arguments(made)
    return made


def test_flags_that_define_a_run_default_to_none():
    args = parser().parse_args([])
    for name in DEFINING:
        assert getattr(args, name) is None, name
    assert args.resume is False and args.no_report is False and args.out is None


def test_flags_parse_to_their_types():
    args = parser().parse_args(
        [
            "--models",
            "mingru,gru",
            "--seq-lens",
            "32,64",
            "--lrs",
            "0.001,0.01",
            "--seeds",
            "0,1",
            "--set",
            "lr=1",
            "--set",
            "train_steps=5",
            "--mem-limit",
            "2GiB",
            "--match",
            "params",
            "--find-max-len",
        ]
    )
    assert args.models == ["mingru", "gru"] and args.seq_lens == [32, 64]
    assert args.lrs == [0.001, 0.01] and args.seeds == [0, 1]
    assert args.overrides == ["lr=1", "train_steps=5"]
    assert args.mem_limit == 2 * 2**30
    assert args.match == "params" and args.find_max_len is True


@pytest.mark.parametrize(
    "argv", [["--seq-lens", "0"], ["--match", "depth"], ["--isolation", "thread"], ["--tf32", "yes"]]
)
def test_bad_values_are_refused_by_the_parser(argv):
    with pytest.raises(SystemExit):
        parser().parse_args(argv)


def test_the_executor_flags_come_with_the_run_flags():
    args = parser().parse_args([])
    assert args.executor == "local"
    only_cells = argparse.ArgumentParser()
    add_cell_arguments(only_cells)
    assert not hasattr(only_cells.parse_args([]), "executor")
