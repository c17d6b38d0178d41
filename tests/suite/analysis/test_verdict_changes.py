"""suite.analysis.verdict_changes: two analyses' verdicts matched outcome by outcome."""

import math

from suite.analysis.verdict_changes import judged, outcome_key, outcome_label, verdict_rows


def entry(model="mingru", kind="solved", train_len=64, eval_len=64, d_model=16, variant='{"vocab_size": 64}', **extra):
    return {
        "task": "mqar",
        "task_variant": variant,
        "model": model,
        "d_model": d_model,
        "n_layers": 2,
        "param_match": "width",
        "train_len": train_len,
        "eval_len": eval_len,
        "verdict_kind": kind,
        "verdict": f"{model} {kind}",
        **extra,
    }


def test_outcome_key_matches_integers_written_as_floats():
    assert outcome_key(entry(train_len=64, d_model=16)) == outcome_key(entry(train_len=64.0, d_model=16.0))
    assert outcome_key(entry(train_len=64)) != outcome_key(entry(train_len=128))


def test_judged_names_the_direction_of_a_change():
    assert judged({"verdict_kind": "solved"}, {"verdict_kind": "solved"}) == ("same", "")
    verdict, reason = judged({"verdict_kind": "solved"}, {"verdict_kind": "fails", "verdict": "x fails"})
    assert verdict == "worse" and reason.startswith("solved -> fails: x fails")
    assert judged({"verdict_kind": "fails"}, {"verdict_kind": "solved"})[0] == "improvement"
    assert judged({"verdict_kind": "inconclusive"}, {"verdict_kind": "fails"})[0] == "changed"


def test_outcome_label_adds_what_varies():
    assert outcome_label(entry(), False, False) == "mingru mqar T=64 (verdict)"
    assert outcome_label(entry(eval_len=256.0), False, False) == "mingru mqar T=64 @256 (verdict)"
    label = outcome_label(entry(param_match="params"), True, True)
    assert label == 'mingru mqar T=64 {"vocab_size": 64} [d_model=16, n_layers=2] (params matched) (verdict)'


def test_verdict_rows_pair_shared_outcomes_only():
    baseline = {"verdicts": [entry("mingru", "solved"), entry("gru", "fails"), entry("lstm", "fails")]}
    current = {"verdicts": [entry("mingru", "fails"), entry("gru", "solved"), entry("mamba", "solved")]}
    rows = {row["model"]: row for row in verdict_rows(baseline, current)}
    assert set(rows) == {"mingru", "gru"}
    assert rows["mingru"]["verdict"] == "worse"
    assert rows["gru"]["verdict"] == "improvement"
    assert rows["gru"]["cell"] == "gru mqar T=64 (verdict)"
    assert (rows["mingru"]["baseline"], rows["mingru"]["current"]) == ("solved", "fails")
    assert rows["mingru"]["metric"] == "verdict" and math.isnan(rows["mingru"]["change"])
    assert verdict_rows({}, current) == []
