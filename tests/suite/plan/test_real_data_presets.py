"""The real-data presets: registered and valid, the paper's Shakespeare settings, every family with its
native backend and two seeds on CPU, early stopping that can end a cell before its budget, and plans
built from them (on a small corpus and small IDX files written here: no network, no data set)."""

import dataclasses

import pytest

from suite.data.fashion_mnist import FILES
from suite.data.idx import write_idx
from suite.plan.planning import build_plan
from suite.plan.preset_checks import value_problems
from suite.plan.presets import PRESETS
from suite.plan.real_data_presets import (
    EVERY_FAMILY,
    REAL_DATA_PRESETS,
    SHAKESPEARE_CPU_EVAL_EVERY,
    SHAKESPEARE_CPU_STEPS,
)
from suite.registry import parse_spec


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "verse.txt"
    path.write_text("now is the winter of our discontent made glorious summer by this sun of york\n" * 200)
    return path  # 15,400 characters: 770 in the validation and test regions, room for a window of 256


@pytest.fixture
def images(tmp_path):
    """Thirty 28x28 training and twelve test images as the four IDX files."""
    folder = tmp_path / "fashion"
    folder.mkdir()
    for part, n in (("train", 30), ("test", 12)):
        write_idx(folder / FILES[f"{part}_images"], (n, 28, 28), bytes(i % 256 for i in range(n * 784)))
        write_idx(folder / FILES[f"{part}_labels"], (n,), bytes(i % 10 for i in range(n)))
    return folder


def on_corpus(name, corpus):
    preset = REAL_DATA_PRESETS[name]
    return dataclasses.replace(preset, task_params={"char-lm": {"corpus": str(corpus)}})


def test_each_real_data_preset_is_registered_valid_and_runs_accuracy_cells_only():
    assert set(REAL_DATA_PRESETS) == {"paper-shakespeare", "shakespeare-cpu", "fashion-mnist-cpu"}
    for name, preset in REAL_DATA_PRESETS.items():
        assert PRESETS[name] is preset and preset.name == name and value_problems(preset) == []
        assert preset.kinds == ("accuracy",) and preset.models and preset.patience > 0
        for spec in preset.models:
            parse_spec(spec)  # a known family and backend
            assert ":" not in spec  # the first backend that runs: cuDNN or native, never the loops


def test_paper_shakespeare_keeps_the_papers_settings():
    preset = REAL_DATA_PRESETS["paper-shakespeare"]
    assert preset.device == "cuda" and preset.models == ("mingru", "minlstm", "mamba", "transformer")
    assert (preset.d_model, preset.n_layers, preset.dropout) == (384, 3, 0.2)
    assert (preset.lr, preset.train_steps, preset.batch_size, preset.eval_every, preset.grad_clip) == (
        1e-3,
        5000,
        64,
        25,
        0.25,
    )
    assert preset.family_options["transformer"]["n_heads"] == 6
    assert preset.family_options["mamba"] == {"d_state": 16, "expand": 2}
    assert preset.family_options["mingru"]["expansion"] == preset.family_options["minlstm"]["expansion"] == 2.0
    assert preset.tasks == ("char-lm",) and preset.task_params["char-lm"]["corpus"] == "shakespeare"
    assert preset.seq_lens == (256,)
    for said in ("context 256", "Assumed", "causal convolution", "dropout 0.2", "tiny-shakespeare"):
        assert said in preset.description


def test_shakespeare_cpu_runs_every_family_with_two_seeds_and_a_plateau_rule(corpus):
    preset = REAL_DATA_PRESETS["shakespeare-cpu"]
    assert preset.device == "cpu" and set(preset.models) == set(EVERY_FAMILY) and len(preset.seeds) >= 2
    assert preset.train_steps == SHAKESPEARE_CPU_STEPS and preset.eval_every == SHAKESPEARE_CPU_EVAL_EVERY
    assert preset.lr_schedule == "constant"  # a plateau is the model's, not the schedule's
    assert preset.d_model <= 128 and preset.seq_lens[0] <= 128 and preset.batch_size == 32
    cells = build_plan(
        on_corpus("shakespeare-cpu", corpus), models=preset.models, seeds=preset.seeds, kinds=("accuracy",)
    )
    assert len(cells) == len(EVERY_FAMILY) * len(preset.seeds)
    for cell in cells:
        config = cell.train_config
        assert cell.task == "char-lm" and cell.seq_len == 128
        assert config["patience"] == preset.patience and config["min_delta"] == preset.min_delta
        assert config["recall_ngram"] == 3 and "dropout" not in cell.model_config  # no dropout: keys as before


def test_the_paper_presets_dropout_reaches_its_cells_and_their_keys(corpus):
    paper = on_corpus("paper-shakespeare", corpus)
    [cell] = build_plan(paper, models=["mingru"], kinds=("accuracy",), device="cuda")
    assert cell.model_config["dropout"] == 0.2 and cell.architecture.dropout == 0.2
    [plain] = build_plan(dataclasses.replace(paper, dropout=0.0), models=["mingru"], kinds=("accuracy",), device="cuda")
    assert "dropout" not in plain.model_config and plain.key != cell.key


def test_fashion_mnist_cpu_plans_at_784_pixels_without_mamba(images):
    preset = REAL_DATA_PRESETS["fashion-mnist-cpu"]
    assert "mamba" not in preset.models and "Mamba" in preset.description  # left out, with the reason
    assert preset.seq_lens == (784,) and preset.target_accuracy is not None and preset.patience > 0
    preset = dataclasses.replace(
        preset, task_params={"seq-fashion-mnist": {"data_dir": str(images), "valid_images": 6}}
    )
    cells = build_plan(preset, models=preset.models, kinds=("accuracy",))
    assert [cell.model for cell in cells] == list(preset.models) and {cell.seq_len for cell in cells} == {784}
    assert all(cell.train_config["target_accuracy"] == 0.85 for cell in cells)


def test_a_preset_names_its_seeds_and_a_bad_seed_is_refused():
    from suite.plan.preset_checks import PresetValueError

    assert REAL_DATA_PRESETS["shakespeare-cpu"].as_dict()["seeds"] == (0, 1)
    with pytest.raises(PresetValueError, match="seeds must hold integers"):
        dataclasses.replace(REAL_DATA_PRESETS["shakespeare-cpu"], seeds=(-1,))
    with pytest.raises(PresetValueError, match="dropout must be a number in"):
        dataclasses.replace(REAL_DATA_PRESETS["shakespeare-cpu"], dropout=1.0)


def test_a_run_takes_the_presets_seeds_unless_the_command_line_names_its_own():
    from suite.commands.cli import build_parser
    from suite.commands.run import resolve

    def seeds(*extra):
        return resolve(build_parser().parse_args(["run", "--preset", "shakespeare-cpu", *extra]))[0].seeds

    assert seeds() == [0, 1] and seeds("--seeds", "3") == [3]
    assert resolve(build_parser().parse_args(["run", "--preset", "tiny"]))[0].seeds == [0]
