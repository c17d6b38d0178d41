"""suite.analysis.cell_labels: record identities, seed groups and the labels compare prints."""

from suite.analysis import tables as analysis
from suite.analysis.cell_labels import Labels, cell_order, group_key, keyed, probe_mask, scored_at, unmatched
from tests.suite.report.test_report import make_record, write_run


def frame(tmp_path, records):
    return analysis.load_results(write_run(tmp_path, records))


def test_scored_at_reads_the_evaluation_length():
    assert scored_at("abc@128") == "128"
    assert scored_at("abc") is None
    assert scored_at(None) is None


def test_group_key_ignores_the_seed_but_not_the_length(tmp_path):
    records = frame(
        tmp_path,
        [
            make_record("accuracy", "mingru", "mqar", 64, seed=0),
            make_record("accuracy", "mingru", "mqar", 64, seed=1),
            make_record("accuracy", "mingru", "mqar", 256, seed=0),
        ],
    )
    keys = [group_key(row) for _, row in records.iterrows()]
    assert keys[0] == keys[1]
    assert keys[0] != keys[2]
    assert group_key(records.iloc[0], "x@128") != keys[0]


def test_keyed_indexes_by_identity_and_keeps_the_last(tmp_path):
    first = make_record("accuracy", "mingru", "mqar", 64, accuracy=0.1)
    second = make_record("accuracy", "mingru", "mqar", 64, accuracy=0.9)
    other = make_record("accuracy", "mingru", "mqar", 64, eval_len=128)
    records = frame(tmp_path, [first, second, other])
    table = keyed(records)
    key = first["cell_key"]
    assert list(table.index) == [key, f"{key}@128"]
    assert table.loc[key, "accuracy"] == 0.9


def test_labels_name_model_task_length_and_seed(tmp_path):
    records = frame(
        tmp_path,
        [
            make_record("accuracy", "mingru", "mqar", 64, seed=0),
            make_record("accuracy", "mingru", "mqar", 64, seed=1),
            make_record("accuracy", "mingru", "mqar", 64, eval_len=128),
            make_record("perf", "mingru", "mqar", 128),
        ],
    )
    table = keyed(records)
    labels = Labels(table)
    ids = list(table.index)
    assert labels.cell(ids[0]) == "mingru mqar T=64 seed=0"
    assert labels.cell(ids[1]) == "mingru mqar T=64 seed=1"
    assert labels.cell(ids[2]) == "mingru mqar T=64 @128 seed=0"
    assert labels.cell(ids[3]) == "mingru perf T=128 seed=0"
    assert labels.group(ids[0], 2) == "mingru mqar T=64 (2 seeds)"
    assert labels.group(ids[0], 1) == "mingru mqar T=64 seed=0"


def test_labels_add_the_configuration_that_tells_cells_apart(tmp_path):
    narrow = make_record("accuracy", "gru:loop", "mqar", 64, model_config={"d_model": 16, "n_layers": 2})
    wide = make_record("accuracy", "gru:loop", "mqar", 64, model_config={"d_model": 32, "n_layers": 2})
    wide["cell_key"] += "|wide"
    table = keyed(frame(tmp_path, [narrow, wide]))
    labels = Labels(table)
    assert labels.cell(narrow["cell_key"]) == "gru:loop mqar T=64 [d_model=16] seed=0"
    assert labels.cell(wide["cell_key"]) == "gru:loop mqar T=64 [d_model=32] seed=0"


def test_cell_order_sorts_numbers_and_puts_eval_lengths_after():
    labels = ["m t T=256 seed=0", "m t T=64 @128 seed=0", "m t T=64 seed=0"]
    assert sorted(labels, key=cell_order) == ["m t T=64 seed=0", "m t T=64 @128 seed=0", "m t T=256 seed=0"]


def test_unmatched_lists_missing_and_new_cells_and_counts_probes(tmp_path):
    shared = make_record("accuracy", "mingru", "mqar", 64)
    gone = make_record("accuracy", "mingru", "mqar", 256)
    new = make_record("accuracy", "mamba", "mqar", 64)
    probe = make_record("perf", "mingru", "mqar", 1024, train_config={"steps": 10, "probe": "max_len"})
    base = keyed(frame(tmp_path / "base", [shared, gone, probe]))
    cur = keyed(frame(tmp_path / "cur", [shared, new]))
    assert probe_mask(base.reset_index(drop=True)).tolist() == [False, False, True]
    missing, added, probes = unmatched(base, cur, Labels(base, cur))
    assert missing == ["mingru mqar T=256 seed=0"]
    assert added == ["mamba mqar T=64 seed=0"]
    assert probes == 1
