"""A language-model task's cells: their recall and target settings, and the run-stopping checks of its data."""

import dataclasses

import pytest

from suite.errors import UsageError
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text("to be or not to be, that is the question.\n" * 60, encoding="utf-8")  # 2,520 characters
    return path


def lm_preset(corpus, **changes):
    preset = get_preset("tiny")
    params = {**preset.task_params, "char-lm": {"corpus": str(corpus)}}
    return dataclasses.replace(preset, task_params=params, **changes)


def test_lm_cells_carry_their_recall_n_and_target_loss_and_synthetic_cells_do_not(corpus):
    preset = lm_preset(corpus, target_loss=1.2, target_accuracy=0.9, recall_ngram=5)
    cells = build_plan(preset, models=["mingru"], tasks=["char-lm", "mqar"], kinds=("accuracy",))
    by_task = {cell.task: cell for cell in cells}
    lm, mqar = by_task["char-lm"].train_config, by_task["mqar"].train_config
    assert (lm["recall_ngram"], lm["target_loss"]) == (5, 1.2)
    assert "recall_ngram" not in mqar and "target_loss" not in mqar and mqar["target_accuracy"] == 0.9
    assert by_task["char-lm"].task_params["corpus"] == str(corpus)
    plain = build_plan(lm_preset(corpus), models=["mingru"], tasks=["char-lm"], kinds=("accuracy",))[0]
    assert plain.train_config["recall_ngram"] == 3 and "target_loss" not in plain.train_config  # unset: absent
    assert plain.key != by_task["char-lm"].key


def test_a_missing_corpus_stops_the_plan_naming_what_to_pass(tmp_path):
    preset = lm_preset(tmp_path / "absent.txt")
    with pytest.raises(UsageError, match="absent.txt"):
        build_plan(preset, models=["mingru"], tasks=["char-lm"], kinds=("accuracy",))


def test_a_missing_data_set_stops_the_plan_naming_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path / "empty"))
    preset = lm_preset("shakespeare")
    with pytest.raises(UsageError, match="python -m suite data fetch shakespeare"):
        build_plan(preset, models=["mingru"], tasks=["char-lm"], kinds=("accuracy",))


def test_a_window_longer_than_the_validation_region_stops_the_plan(corpus):
    # 2,520 characters: the valid and test regions hold 126 each, so a window of 125 + 1 fits and 126 + 1 does not
    preset = lm_preset(corpus)
    build_plan(preset, models=["mingru"], tasks=["char-lm"], seq_lens=[125], kinds=("accuracy",))
    with pytest.raises(UsageError, match="at most 125") as error:
        build_plan(preset, models=["mingru"], tasks=["char-lm"], seq_lens=[126], kinds=("accuracy",))
    assert len(str(error.value).splitlines()) == 1
    with pytest.raises(UsageError, match="at most 125"):  # a scoring length is checked as well
        build_plan(preset, models=["mingru"], tasks=["char-lm"], seq_lens=[64], eval_lens=[64, 200])
