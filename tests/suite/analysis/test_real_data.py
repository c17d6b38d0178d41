"""Real data in the analysis: language models per seed and over seeds (test loss and its interval,
steps and seconds to the best validation loss, overfitting), the paper's numbers beside a Shakespeare
corpus only, loss by position, the recall split against the run's attention model, classification
of a data set, Spearman's rho with ties, and how a synthetic ranking agrees with the ranking by loss."""

import json
import math

import pytest

from suite.analysis import rank_correlation as rc
from suite.analysis.real_data import OVERFIT_RELATIVE, has_real_data, lm_seed_table, lm_table, overfit
from suite.analysis.real_data_agreement import agreement
from suite.analysis.real_data_images import classification_table
from suite.analysis.real_data_recall import loss_by_position, recall_table
from suite.analysis.real_data_summary import real_data_tables
from suite.analysis.run_analysis import analyse
from suite.analysis.tables import load_results
from suite.records.schema import blank_record

# model -> test loss per seed, recall loss, other loss
LM = {
    "transformer": ((1.50, 1.52), 0.80, 1.60),
    "mingru": ((1.55, 1.57), 1.10, 1.62),
    "gru": ((1.60, 1.64), 1.00, 1.70),
    "mamba": ((1.58, 1.58), 0.95, 1.66),
    "lstm": ((1.70, 1.72), 1.20, 1.78),
}
CURVE = [[50, 10.0, 2.2], [100, 20.0, 1.8], [150, 30.0, 1.7], [200, 40.0, 1.72]]  # best at 150, then 1.2% up


def base(model, task, seed, **fields):
    record = blank_record("accuracy")
    family = "stack" if "*" in model else model
    record.update(
        run_id="real",
        cell_key=f"{model}|{task}|{seed}|{fields.get('seq_len', 64)}",
        model=model,
        family=family,
        backend="linear",
        task=task,
        task_params={},
        seq_len=64,
        eval_len=64,
        batch_size=32,
        seed=seed,
        status="ok",
        params=10_000,
        model_config={"d_model": 64, "n_layers": 2},
        train_config={"steps": 200},
        stop_reason="plateau",
        steps_trained=200,
        max_steps=1800,
        patience=6,
        min_delta=0.03,
    )
    record.update(fields)
    return record


def lm_record(model, seed, dataset="shakespeare", curve=CURVE, **fields):
    losses, recall, other = LM.get(model, ((1.5, 1.5), 0.8, 1.6))
    loss = losses[seed]
    return base(
        model,
        "char-lm",
        seed,
        objective="lm",
        dataset=dataset,
        dataset_version="0.6",
        task_params={"corpus": dataset},
        test_loss=loss,
        test_loss_se=0.01,
        test_loss_ci_low=loss - 0.0196,
        test_loss_ci_high=loss + 0.0196,
        bits_per_char=loss / math.log(2),
        accuracy=0.5,
        accuracy_ci_low=0.49,
        accuracy_ci_high=0.51,
        n_scored=8192,
        valid_curve=curve,
        best_step=min(curve, key=lambda p: p[2])[0],
        best_valid_loss=min(p[2] for p in curve),
        loss_by_position=[2.0 + seed, 1.0 + seed, 0.5 + seed],
        recall_ngram=3,
        recall_fraction=0.1,
        recall_loss=recall + 0.01 * seed,
        other_loss=other + 0.01 * seed,
        **fields,
    )


def synthetic_record(model, accuracy, task="mqar", seed=0):
    return base(model, task, seed, task_params={"num_kv_pairs": 4}, accuracy=accuracy, n_scored=1024)


def fashion_record(model, seed, accuracy):
    return base(
        model,
        "seq-fashion-mnist",
        seed,
        seq_len=784,
        eval_len=784,
        dataset="fashion-mnist",
        accuracy=accuracy,
        accuracy_ci_low=accuracy - 0.03,
        accuracy_ci_high=accuracy + 0.03,
        n_scored=1024,
        chance_accuracy=0.1,
        valid_curve=[[50, 5.0, 0.3], [100, 10.0, 0.5]],
        best_step=100,
        best_valid_accuracy=0.5,
        objective="accuracy",
    )


def frame(tmp_path, records):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return load_results(tmp_path)


@pytest.fixture
def lm_run(tmp_path):
    return frame(tmp_path, [lm_record(model, seed) for model in LM for seed in (0, 1)])


def test_overfitting_is_a_last_validation_loss_notably_above_the_best_after_it():
    assert overfit(CURVE)[3] is False  # 1.72 is 1.2% above 1.70
    risen = CURVE[:-1] + [[200, 40.0, 1.7 * (1 + OVERFIT_RELATIVE) + 0.001]]
    best, last, gap, overfitted = overfit(risen)
    assert overfitted and best == 1.7 and gap == pytest.approx(last - 1.7)
    assert overfit(CURVE[:3])[3] is False  # the best is the last evaluation
    assert overfit([])[3] is False and math.isnan(overfit([])[0])


def test_a_models_seeds_give_the_loss_its_interval_spread_steps_and_seconds_to_best(lm_run):
    seeds = lm_seed_table(lm_run)
    assert len(seeds) == 10 and set(seeds["steps_to_best"]) == {150.0} and set(seeds["seconds_to_best"]) == {30.0}
    table = lm_table(seeds).set_index("model")
    gru = table.loc["gru"]
    assert gru["test_loss"] == pytest.approx(1.62) and gru["ci_method"] == "t over seeds" and gru["n_ok"] == 2
    # Student's t with one degree of freedom: 12.706 x sd / sqrt(2)
    half = 12.7062 * gru["test_loss_sd"] / math.sqrt(2)
    assert gru["test_loss_ci_high"] - gru["test_loss"] == pytest.approx(half, rel=1e-4)
    assert (gru["test_loss_min"], gru["test_loss_max"]) == (1.60, 1.64)
    assert gru["stop_reasons"] == "plateau" and gru["steps_trained"] == 200 and not gru["overfitted"]
    assert gru["bits_per_char"] == pytest.approx(1.62 / math.log(2))


def test_one_seed_keeps_the_interval_over_its_test_windows(tmp_path):
    table = lm_table(lm_seed_table(frame(tmp_path, [lm_record("mingru", 0)]))).iloc[0]
    assert table["ci_method"] == "windows" and math.isnan(table["test_loss_sd"])
    assert (table["test_loss_ci_low"], table["test_loss_ci_high"]) == pytest.approx((1.55 - 0.0196, 1.55 + 0.0196))


def test_the_papers_numbers_stand_beside_a_shakespeare_corpus_only(tmp_path):
    records = [lm_record("mingru", 0), lm_record("transformer", 0, dataset="enwik8.txt")]
    table = lm_table(lm_seed_table(frame(tmp_path, records))).set_index("model")
    assert table.loc["mingru", "paper_test_loss"] == 1.548 and table.loc["mingru", "paper_steps_to_best"] == 575
    assert math.isnan(table.loc["transformer", "paper_test_loss"])  # another corpus: no published number
    reference = real_data_tables(frame(tmp_path, records))["paper"]
    assert "not byte-identical" in reference["corpus"] and "not a target" in reference["corpus"]
    assert {r["model"]: r["test_loss"] for r in reference["results"]} == {
        "mingru": 1.548,
        "minlstm": 1.555,
        "mamba": 1.575,
        "transformer": 1.547,
    }


def test_overfitted_seeds_are_counted(tmp_path):
    risen = CURVE[:-1] + [[200, 40.0, 1.9]]
    records = [lm_record("transformer", 0, curve=risen), lm_record("transformer", 1)]
    row = lm_table(lm_seed_table(frame(tmp_path, records))).iloc[0]
    assert row["overfitted"] and row["n_overfitted"] == 1


def test_loss_by_position_is_the_mean_over_seeds(lm_run):
    positions = loss_by_position(lm_seed_table(lm_run)).set_index("model")
    assert positions.loc["gru", "loss_by_position"] == [2.5, 1.5, 1.0] and positions.loc["gru", "n_ok"] == 2


def test_recall_gaps_are_to_the_runs_attention_model(lm_run):
    recall = recall_table(lm_seed_table(lm_run)).set_index("model")
    assert set(recall["control"]) == {"transformer"}
    gru = recall.loc["gru"]
    assert gru["recall_gap"] == pytest.approx(0.20) and gru["other_gap"] == pytest.approx(0.10)
    assert gru["gap_difference"] == pytest.approx(0.10) and recall.loc["transformer", "recall_gap"] == 0


def test_a_pure_attention_stack_is_the_control_when_no_plain_transformer_ran(tmp_path):
    stack = lm_record("mingru", 0)
    stack.update(
        model="transformer*2",
        family="stack",
        model_config={"d_model": 64, "n_layers": 2, "layers": ["transformer"] * 2},
    )
    stack["cell_key"] = "stack"
    records = [lm_record("mingru", 0), stack]
    recall = recall_table(lm_seed_table(frame(tmp_path, records))).set_index("model")
    assert recall.loc["mingru", "control"] == "transformer*2"


def test_without_attention_there_is_no_gap(tmp_path):
    recall = recall_table(lm_seed_table(frame(tmp_path, [lm_record("gru", 0), lm_record("mingru", 0)])))
    assert recall["control"].isna().all() and recall["recall_gap"].isna().all()


def test_classification_on_a_data_set_is_per_model_with_its_interval(tmp_path):
    records = [fashion_record("lstm", 0, 0.7), fashion_record("lstm", 1, 0.8), fashion_record("mingru", 0, 0.6)]
    table = classification_table(frame(tmp_path, records)).set_index("model")
    lstm = table.loc["lstm"]
    assert lstm["accuracy"] == pytest.approx(0.75) and lstm["ci_method"] == "t over seeds"
    assert lstm["steps_to_best"] == 100 and lstm["seconds_to_best"] == 10.0 and lstm["stop_reasons"] == "plateau"
    assert table.loc["mingru", "ci_method"] == "wilson" and table.loc["mingru", "accuracy_ci_low"] == 0.57


def test_average_ranks_share_ties_and_spearman_matches_a_hand_computation():
    assert rc.average_ranks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4]
    assert rc.average_ranks([3, 1, 2]) == [3, 1, 2]
    # ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: sum dx*dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5
    assert (
        rc.spearman([1, 2, 2, 3], [1, 3, 2, 4])
        == pytest.approx(4.5 / math.sqrt(4.5 * 5))
        == pytest.approx(3 / math.sqrt(10))
    )
    assert rc.spearman([1, 2, 3, 4], [40, 30, 20, 10]) == -1.0
    assert math.isnan(rc.spearman([1, 1, 1], [1, 2, 3]))  # a constant side has no ranking


def test_the_interval_and_the_permutation_test_of_a_small_sample():
    low, high = rc.fisher_interval(0.5, 10)
    half = 1.96 * math.sqrt(1.06 / 7)
    assert (low, high) == pytest.approx((math.tanh(math.atanh(0.5) - half), math.tanh(math.atanh(0.5) + half)))
    assert all(math.isnan(v) for v in rc.fisher_interval(0.5, 3) + rc.fisher_interval(1.0, 10))
    assert rc.permutation_p([1, 2, 3, 4], [1, 2, 3, 4]) == (2 / 24, "exact")  # the identity and its reverse
    p, method = rc.permutation_p(list(range(10)), list(range(10)))
    assert method == "10000 random permutations" and p < 0.001


def test_a_synthetic_ranking_is_compared_with_the_ranking_by_test_loss(tmp_path):
    # accuracy on mqar: transformer > mamba > mingru > gru > lstm; by loss: transformer > mingru > mamba > gru > lstm
    accuracy = {"transformer": 0.99, "mamba": 0.6, "mingru": 0.5, "gru": 0.3, "lstm": 0.2}
    synthetic = frame(tmp_path / "synthetic", [synthetic_record(m, a) for m, a in accuracy.items()])
    real = frame(tmp_path / "real", [lm_record(m, s) for m in LM for s in (0, 1)])
    entries = {e["real_metric"]: e for e in agreement(synthetic, real).to_dict("records")}
    assert set(entries) == {"test_loss", "recall_loss"}
    entry = entries["test_loss"]
    assert entry["n"] == 5 and entry["rho"] == pytest.approx(0.9) and entry["caveat"] == ""
    assert entry["synthetic_task"] == "mqar" and entry["synthetic_variant"] == "num_kv_pairs=4"
    assert entry["ci_low"] < 0.9 < entry["ci_high"] and entry["p_method"] == "exact"
    assert "Spearman's rho" in entry["sentence"] and "n = 5 models" in entry["sentence"]
    assert "by test loss on char-lm" in entry["sentence"]
    # by loss on recall tokens: transformer 0.80 < mamba 0.95 < gru 1.00 < mingru 1.10 < lstm 1.20, so mingru
    # and gru swap against the accuracy ranking: rho = 1 - 6 * 2 / (5 * 24) = 0.9
    recall = entries["recall_loss"]
    assert recall["n"] == 5 and recall["rho"] == pytest.approx(0.9)
    assert "by test loss on recall tokens on char-lm" in recall["sentence"]
    assert entry["synthetic_runs"] == recall["synthetic_runs"] == ["real"]
    # the same within one run holding both kinds of cell
    both = frame(tmp_path / "both", [synthetic_record(m, a) for m, a in accuracy.items()] + [lm_record("gru", 0)])
    assert sorted(agreement(both)["real_metric"]) == ["recall_loss", "test_loss"]


def test_few_models_in_common_get_a_caveat_or_no_rho(tmp_path):
    synthetic = frame(
        tmp_path / "s", [synthetic_record(m, a) for m, a in (("gru", 0.3), ("lstm", 0.2), ("mamba", 0.6))]
    )
    real = frame(tmp_path / "r", [lm_record(m, 0) for m in ("gru", "lstm", "mamba", "transformer")])
    [three, _] = agreement(synthetic, real).to_dict("records")
    assert three["n"] == 3 and "only 3 models" in three["caveat"] and three["ci_method"] == "needs n >= 4"
    two = frame(tmp_path / "t", [synthetic_record(m, a) for m, a in (("gru", 0.3), ("lstm", 0.2))])
    [none, _] = agreement(two, real).to_dict("records")
    assert math.isnan(none["rho"]) and "at least 3" in none["caveat"] and "cannot be said" in none["sentence"]


def test_a_cell_cut_by_the_time_guard_is_left_out_of_the_agreement(tmp_path):
    accuracy = {"transformer": 0.99, "mamba": 0.6, "mingru": 0.5, "gru": 0.3}
    records = [synthetic_record(m, a) for m, a in accuracy.items()]
    records[1].update(cut_by_time=True)
    real = frame(tmp_path / "r", [lm_record(m, 0) for m in accuracy])
    entry = agreement(frame(tmp_path / "s", records), real).to_dict("records")[0]
    assert entry["models"] == ["gru", "mingru", "transformer"] and "(num_kv_pairs=4, T=64)" in entry["sentence"]


def test_the_analysis_has_real_data_only_when_the_run_does(tmp_path, lm_run):
    document = analyse(lm_run, {}).to_json()["real_data"]
    assert set(document) == {
        "lm",
        "lm_seeds",
        "loss_by_position",
        "recall",
        "classification",
        "agreement",
        "paper",
        "overfit_rule",
    }
    assert len(document["lm"]) == 5 and len(document["lm_seeds"]) == 10 and document["agreement"] == []
    assert json.dumps(document, allow_nan=False)
    synthetic = frame(tmp_path / "synthetic", [synthetic_record("gru", 0.3)])
    assert not has_real_data(synthetic) and analyse(synthetic, {}).to_json()["real_data"] == {}
