"""suite.report.variants: task variants named by the parameters that tell them apart."""

import pandas as pd

from suite.report.variants import variant_labels, variant_labels_by_task, variant_params, variant_text


def test_variant_params_parses_and_drops_unset_values():
    assert variant_params('{"num_kv_pairs": 4, "power_a": null}') == {"num_kv_pairs": 4}
    assert variant_params("not json") == {}
    assert variant_params("[1, 2]") == {}
    assert variant_params(None) == {}


def test_variant_labels_show_only_differing_parameters():
    four, eight = '{"num_kv_pairs": 4, "vocab_size": 32}', '{"num_kv_pairs": 8, "vocab_size": 32}'
    assert variant_labels([four, eight]) == {four: "num_kv_pairs=4", eight: "num_kv_pairs=8"}
    assert variant_labels([four]) == {four: "default"}


def test_variant_labels_by_task_compare_within_a_task():
    table = pd.DataFrame(
        {
            "task": ["mqar", "mqar", "copy"],
            "task_variant": ['{"vocab_size": 32}', '{"vocab_size": 64}', '{"vocab_size": 16}'],
        }
    )
    labels = variant_labels_by_task(table)
    assert labels[("mqar", '{"vocab_size": 32}')] == "vocab_size=32"
    assert labels[("mqar", '{"vocab_size": 64}')] == "vocab_size=64"
    assert labels[("copy", '{"vocab_size": 16}')] == "default"


def test_variant_text_lists_every_parameter():
    assert variant_text('{"vocab_size": 32, "num_kv_pairs": 4}') == "num_kv_pairs=4, vocab_size=32"
    assert variant_text("{}") == "default parameters"
