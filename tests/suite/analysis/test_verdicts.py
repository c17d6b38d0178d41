"""Verdicts that wait for learning, on synthetic accuracy records: undertrained misses are never
failures, a plateaued miss beside a solving control is, older records without early stopping are
inconclusive, the --set line doubles the right budget; equal-compute ratios and the MQAR regime."""

import json

import pytest

from suite.analysis import equal_compute, questions
from suite.analysis.tables import load_results
from suite.records.schema import blank_record
from suite.report.sections.compute import compute_sentence

FAMILIES = {"mingru": "log", "minlstm": "log", "lstm": "cudnn", "transformer": "sdpa-math"}


def record(model, accuracy, task="mqar", seed=0, eval_len=64, stop="plateau", rising=False, max_steps=250, **fields):
    """A schema-shaped accuracy record trained at length 64, with early-stopping fields (``stop=None``:
    a record written before early stopping, without any of them)."""
    data = blank_record("accuracy")
    data.update(
        run_id="verdicts",
        cell_key=f"{model}|{task}|{seed}",
        model=model,
        family=model.split(":")[0],
        backend=FAMILIES[model.split(":")[0]],
        task=task,
        task_params={"vocab_size": 64},
        seq_len=64,
        train_len=64,
        eval_len=eval_len,
        batch_size=8,
        seed=seed,
        status="ok",
        params=1000,
        state_bytes=64,
        model_config={"d_model": 16, "n_layers": 2},
        train_config={"steps": max_steps},
        accuracy=accuracy,
        accuracy_ci_low=max(0.0, accuracy - 0.01),
        accuracy_ci_high=min(1.0, accuracy + 0.01),
        n_scored=4000,
        chance_accuracy=1 / 32,
        train_steps=max_steps,
        train_s=1.0,
    )
    if stop is not None:
        data.update(
            stop_reason=stop,
            still_rising=rising,
            max_steps=max_steps,
            steps_trained=max_steps,
            max_steps_key="train_steps",
            eval_every=25,
            patience=4,
            min_delta=0.001,
            best_step=max_steps,
            best_valid_accuracy=accuracy,
        )
    data.update(fields)
    return data


def load(tmp_path, records):
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return load_results(tmp_path)


def verdict_of(tmp_path, records):
    table = questions.verdicts(questions.outcome_table(load(tmp_path, records)))
    return {(r["model"], r["eval_len"]): r for _, r in table.iterrows()}


def test_a_miss_still_rising_at_a_budget_is_undertrained_with_the_line_that_doubles_it(tmp_path):
    rows = verdict_of(
        tmp_path,
        [
            record("transformer", 0.99, stop="target"),
            record("mingru", 0.40, stop="max_steps", rising=True, max_steps_key="task_train.mqar.train_steps"),
            record("mingru", 0.42, seed=1, stop="max_steps", rising=True, max_steps_key="task_train.mqar.train_steps"),
            record("minlstm", 0.30, stop="time_budget", rising=True, time_budget_s=60.0),
            record("lstm", 0.20, stop="max_steps", still_rising=None),  # not recorded: counted as rising
        ],
    )
    mingru, minlstm, lstm = rows[("mingru", 64)], rows[("minlstm", 64)], rows[("lstm", 64)]
    assert mingru["verdict"] == "undertrained (still rising at max_steps)" and mingru["undertrained"]
    assert mingru["train_longer"] == "--set task_train.mqar.train_steps=500"
    # a version-5 record cut by its wall-clock budget is read as cut by the time guard: no verdict
    assert minlstm["verdict"] == questions.CUT_BY_TIME and not minlstm["undertrained"]
    assert minlstm["train_longer"] == ""
    assert lstm["verdict"].startswith("undertrained") and lstm["train_longer"] == "--set train_steps=500"
    assert not any(r["verdict"].startswith("fails") for r in rows.values())
    assert rows[("transformer", 64)]["verdict"] == "solved" and rows[("transformer", 64)]["train_longer"] == ""


def test_a_plateaued_miss_beside_a_solving_control_fails_and_its_extrapolation_rows_follow(tmp_path):
    records = []
    for seed, accuracy in enumerate((0.40, 0.41, 0.42)):
        records += [
            record("mingru", accuracy, seed=seed),
            record("mingru", accuracy - 0.1, seed=seed, eval_len=128),
            record("transformer", 0.99, seed=seed, stop="target"),
            record("transformer", 0.60, seed=seed, stop="target", eval_len=128),
        ]
    rows = verdict_of(tmp_path, records)
    assert rows[("mingru", 64)]["verdict"] == "fails (plateaued; control solves)"
    assert rows[("mingru", 128)]["verdict"] == "inconclusive (control did not solve)"
    assert rows[("mingru", 128)]["stop_reasons"] == "plateau"  # the same training as at 64


def test_an_undertrained_control_leaves_the_others_inconclusive(tmp_path):
    rows = verdict_of(tmp_path, [record("transformer", 0.50, stop="max_steps", rising=True), record("mingru", 0.40)])
    assert rows[("transformer", 64)]["verdict"] == "undertrained (still rising at max_steps)"
    assert rows[("mingru", 64)]["verdict"] == "inconclusive (control undertrained)"
    plateaued = verdict_of(tmp_path, [record("transformer", 0.50), record("mingru", 0.40)])
    assert plateaued[("transformer", 64)]["verdict"].startswith("control fails (plateaued)")
    assert plateaued[("mingru", 64)]["verdict"] == "inconclusive (control did not solve)"


@pytest.mark.parametrize(
    "stops,expected",
    [
        (("plateau", "max_steps"), "inconclusive (stopped on plateau and max_steps: not a plateau)"),  # not rising
        (("target", "target"), "inconclusive (stopped at its target accuracy 0.5, below the bar)"),
    ],
)
def test_a_miss_that_did_not_plateau_in_every_seed_is_inconclusive(tmp_path, stops, expected):
    records = [record("transformer", 0.99, stop="target")]
    records += [record("mingru", 0.4, seed=seed, stop=stop, target_accuracy=0.5) for seed, stop in enumerate(stops)]
    assert verdict_of(tmp_path, records)[("mingru", 64)]["verdict"] == expected


def test_records_without_early_stopping_are_never_failures(tmp_path):
    old = [
        record("transformer", 0.99, stop=None),
        record("mingru", 0.40, stop=None, valid_curve=[[25, 0.2]]),
        record("mingru", 0.41, seed=1, stop=None),
    ]
    rows = verdict_of(tmp_path, old)
    assert rows[("mingru", 64)]["verdict"] == "inconclusive (no early stopping recorded)"
    assert rows[("mingru", 64)]["stop_reasons"] == "" and rows[("mingru", 64)]["n_stop_recorded"] == 0
    mixed = old[:2] + [record("mingru", 0.41, seed=1)]  # one seed recorded, one did not
    assert verdict_of(tmp_path, mixed)[("mingru", 64)]["verdict"] == "inconclusive (no early stopping recorded)"


def test_outcomes_aggregate_how_training_ended_over_seeds(tmp_path):
    records = [
        record(
            "mingru",
            0.95,
            seed=0,
            stop="target",
            steps_trained=100,
            steps_to_target=100,
            seconds_to_target=2.0,
            target_accuracy=0.9,
        ),
        record("mingru", 0.80, seed=1, stop="max_steps", rising=True, steps_trained=250, target_accuracy=0.9),
        record(
            "mingru",
            0.92,
            seed=2,
            stop="target",
            steps_trained=150,
            steps_to_target=150,
            seconds_to_target=None,
            target_accuracy=0.9,
            valid_curve=[[50, 1.0, 0.5], [150, 3.5, 0.91]],
        ),
    ]  # seconds from the curve
    row = questions.outcome_table(load(tmp_path, records)).iloc[0]
    assert row["stop_reasons"] == "target, max_steps" and row["rising_at"] == "max_steps" and row["still_rising"]
    assert row["steps_trained"] == 150 and row["max_steps"] == 250 and row["n_reached"] == 2
    assert row["steps_to_target"] == 125 and row["seconds_to_target"] == pytest.approx(2.75)


def _timed(model, seed, steps, seconds, **fields):
    return record(
        model,
        0.95,
        seed=seed,
        stop="target",
        target_accuracy=0.9,
        steps_to_target=steps,
        seconds_to_target=seconds,
        task="selective-copy",
        **fields,
    )


def test_equal_compute_ratios_and_the_sentence(tmp_path):
    records = [
        _timed("transformer", 0, 500, 10.0),
        _timed("transformer", 1, 700, 14.0),
        _timed("mingru", 0, 200, 4.0),
        _timed("mingru", 1, 280, 8.0),
        _timed("mingru:log", 0, 1, 1.0),
    ]
    table = equal_compute.equal_compute_table(questions.outcome_table(load(tmp_path, records)))
    [entry] = equal_compute.compute_ratios(table)
    assert entry["reference_row"]["model"] == "mingru"  # the plain spec stands for the family
    assert entry["steps_ratio"] == pytest.approx(2.5) and entry["seconds_ratio"] == pytest.approx(2.0)
    sentence = compute_sentence(entry)
    assert (
        sentence.startswith("The transformer needed 2.5× the steps and 2× the seconds of minGRU to reach 90% here")
        and "transformer 2 of 2 seeds, minGRU 2 of 2 seeds" in sentence
    )
    assert "The paper: ~2.5× the steps." in sentence


def test_equal_compute_says_why_a_ratio_cannot_be_given(tmp_path):
    never = record("mingru", 0.4, task="selective-copy", target_accuracy=0.9, steps_to_target=None)
    records = [_timed("transformer", 0, 500, 10.0), never]
    [entry] = equal_compute.compute_ratios(
        equal_compute.equal_compute_table(questions.outcome_table(load(tmp_path, records)))
    )
    assert entry["missing"] == "never reached"
    assert compute_sentence(entry) == (
        "Cannot be said here: minGRU never reached 90% (0 of 1 seeds; stopped: plateau)."
    )
    alone = equal_compute.compute_ratios(
        equal_compute.equal_compute_table(
            questions.outcome_table(load(tmp_path, [_timed("transformer", 0, 500, None)]))
        )
    )
    assert compute_sentence(alone[0]) == "Cannot be said here: the run has no minGRU cell at this setting."


def test_mqar_keys_in_the_filler_are_flagged_above_five_percent(tmp_path):
    from suite.report.sections.questions import regime_notes

    high = record("mingru", 0.5, task_diagnostics={"key_in_filler_rate": 0.31})
    low = record("transformer", 0.9, task_params={"vocab_size": 8192}, task_diagnostics={"key_in_filler_rate": 0.006})
    notes = regime_notes(load(tmp_path, [high, low]))
    assert notes == {
        "mqar": [
            "keys recur in the filler in 31% of queries at vocabulary 64 (Zoology's regime, "
            "V = 8192: 0.6%): not comparable with published MQAR"
        ]
    }
    assert regime_notes(load(tmp_path, [low])) == {}


def test_listops_chance_is_the_measured_majority_class(tmp_path):
    listops = record(
        "transformer", 0.3, task="listops", chance_accuracy=0.1, task_diagnostics={"majority_class_rate": 0.19}
    )
    frame = load(tmp_path, [listops, record("mingru", 0.2)])
    outcomes = questions.outcome_table(frame).set_index("task")
    assert outcomes.loc["listops", "chance_accuracy"] == pytest.approx(0.19)
    assert outcomes.loc["mqar", "chance_accuracy"] == pytest.approx(1 / 32)


def test_each_depth_of_a_layer_grid_is_its_own_verdict_against_the_control_at_that_depth(tmp_path):
    def deep(model, accuracy, layers, stop):
        return record(
            model, accuracy, stop=stop, cell_key=f"{model}|{layers}", model_config={"d_model": 16, "n_layers": layers}
        )

    table = questions.verdicts(
        questions.outcome_table(
            load(
                tmp_path,
                [
                    deep("transformer", 0.99, 1, "target"),
                    deep("transformer", 0.30, 3, "plateau"),
                    deep("mingru", 0.50, 1, "plateau"),
                    deep("mingru", 0.98, 3, "target"),
                ],
            )
        )
    )
    rows = {(r["model"], r["n_layers"]): r for _, r in table.iterrows()}
    assert len(rows) == 4 and all(r["n_runs"] == 1 for r in rows.values())  # depths are not pooled as seeds
    assert rows[("mingru", 1)]["verdict"] == "fails (plateaued; control solves)"  # the 1-layer control solved
    assert rows[("mingru", 3)]["verdict"] == "solved"


def test_a_cell_cut_by_time_is_kept_out_of_every_verdict(tmp_path):
    """Where the time guard stopped training depends on the machine's load: neither solved nor
    failed, and a control it cut cannot make another family fail."""
    rows = verdict_of(
        tmp_path,
        [
            record("transformer", 0.95, stop="time_limit", rising=True, cut_by_time=True, time_limit_s=30.0),
            record("mingru", 0.30, stop="plateau"),
            record("mingru", 0.31, seed=1, stop="plateau"),
        ],
    )
    transformer, mingru = rows[("transformer", 64)], rows[("mingru", 64)]
    assert transformer["verdict"] == questions.CUT_BY_TIME and not transformer["solved"]
    assert questions.verdict_kind(transformer["verdict"]) == "cut by time"
    assert not transformer["undertrained"] and transformer["train_longer"] == ""
    assert mingru["verdict"] == "inconclusive (control cut by time)"
