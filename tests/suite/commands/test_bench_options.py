"""``bench speed`` flags make options, and options that cannot make a bench are one line."""

import argparse
import math

import pytest

from suite.commands.bench_options import (
    DEFAULT_MODELS,
    MAX_ROUNDS,
    SCOPES,
    BenchOptions,
    add_arguments,
    check_fits,
    memory_of,
)
from suite.errors import UsageError


def parser():
    made = argparse.ArgumentParser()
    add_arguments(made)
    return made


def test_unset_flags_are_none_so_a_resume_can_take_the_manifest():
    args = parser().parse_args(["speed"])
    assert all(getattr(args, name) is None for name in BenchOptions.names())
    assert args.resume is False and args.no_report is False


def test_flags_parse_into_option_values():
    args = parser().parse_args(["speed", "--seq-lens", "64,128", "--models", "gru,lstm", "--scopes", "scan"])
    assert args.seq_lens == [64, 128] and args.models == ["gru", "lstm"] and args.scopes == ["scan"]
    with pytest.raises(SystemExit):
        parser().parse_args(["speed", "--tf32", "maybe"])


def test_default_options_are_valid_and_stored_whole():
    options = BenchOptions()
    assert options.validate() is options
    assert options.models == list(DEFAULT_MODELS) and options.scopes == list(SCOPES)
    assert set(options.as_dict()) == set(BenchOptions.names())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"models": []}, "--models is empty"),
        ({"scopes": ["mixer", "galaxy"]}, "unknown --scopes galaxy"),
        ({"scopes": []}, "--scopes is empty"),
        ({"batch_size": 0}, "--batch-size must be at least 1, got 0"),
        ({"repeats": MAX_ROUNDS + 1}, f"--repeats from 1 to {MAX_ROUNDS}"),
        ({"warmup": -1}, "--warmup must be from 0"),
        ({"dtype": "float16"}, "unknown --dtype 'float16'"),
        ({"min_time_s": float("inf")}, "--min-time-s must be a finite number"),
        ({"seed": -1}, "--seed must be an integer from 0"),
    ],
)
def test_bad_options_are_one_usage_error(changes, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as raised:
        BenchOptions(**changes).validate()
    assert "\n" not in str(raised.value)


def test_an_unknown_model_is_refused():
    with pytest.raises(Exception, match="nosuchfamily"):
        BenchOptions(models=["nosuchfamily"]).validate()


def test_the_cpu_memory_is_positive_and_shapes_beyond_it_are_refused():
    total, where = memory_of("cpu")
    assert total > 0 and where == "this machine"
    check_fits(BenchOptions(seq_lens=[16], batch_size=1, d_model=8), "cpu")  # fits
    with pytest.raises(UsageError, match="one D x D weight alone"):
        check_fits(BenchOptions(seq_lens=[16], batch_size=1, d_model=10**7), "cpu")
    with pytest.raises(UsageError, match="one activation alone"):
        check_fits(BenchOptions(seq_lens=[10**9], batch_size=1000, d_model=8), "cpu")
    # a scan holds no D x D weight: only the activation floor applies
    too_wide = math.isqrt(total // 4) + 1
    with pytest.raises(UsageError, match="one D x D weight alone"):
        check_fits(BenchOptions(seq_lens=[16], batch_size=1, d_model=too_wide, scopes=["mixer"]), "cpu")
    check_fits(BenchOptions(seq_lens=[16], batch_size=1, d_model=too_wide, scopes=["scan"]), "cpu")
