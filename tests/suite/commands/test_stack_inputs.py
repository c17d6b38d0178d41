"""Bad stacks and windows on the command line: one line, exit 2, nothing written."""

import pytest

from suite.commands.cli import main

RUN = ["run", "--preset", "tiny", "--tasks", "mqar", "--no-report"]


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--models", "mingru*3+transfomer"], "did you mean 'transformer'"),
        (["--models", "mingru+transformer[window=0]"], "window must be an integer >= 1"),
        (["--models", "transformer[window=-2]*4"], "window must be an integer >= 1"),
        (["--models", "transformer", "--set", "family_options.transformer.window=0"], "window must be an integer >= 1"),
        (["--models", "mingru+transformer[window=33]"], "window 33 is larger than the run's longest length 32"),
        (["--models", "transformer", "--set", "family_options.transformer.window=64"], "larger than the run's longest"),
        (["--models", "mingru*0"], "has zero layers"),
        (["--models", "mingru[window=4]+transformer"], "unknown option of mingru 'window'"),
        (["--models", "mingru", "--set", "family_options.mingru.window=4"], "unknown option of mingru"),
    ],
)
def test_a_bad_stack_or_window_is_one_line_exit_2_and_nothing_written(flags, said, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*RUN, *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and said in err, err
    assert not out.exists()


def test_a_window_equal_to_the_longest_length_is_accepted(tmp_path):
    out = tmp_path / "run"
    assert main([*RUN, "--kinds", "perf", "--models", "mingru+transformer[window=32]", "--out", str(out)]) == 0
    assert (out / "records.jsonl").is_file()
