"""Plugins: a bad --plugin path is one line, a plugin never replaces a built-in silently, what a
plugin registers carries its file's path and SHA-256 into every record, the contract check finds
a broken model or task before a run (and passes every built-in), and the two example plugins of
the README run end to end."""

import hashlib
import textwrap
from pathlib import Path

import pytest

from suite import registry
from suite.commands.cli import main
from suite.measure.contract import check_model, check_task, plugin_problems
from suite.plugins import PluginError, load_plugin_sources, load_plugins, plugin_sources
from suite.records.store import read_records, upgrade

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "plugins"

MIXERS = '''
import torch
from suite import register_model, register_task
from tasks.base import Batch, Task

class Running(torch.nn.Module):
    """y_t = W (x_1 + ... + x_t): keeps the contract unless `lazy`, whose step forgets the state."""
    def __init__(self, d_model, backend, lazy=False):
        super().__init__()
        self.backend, self.lazy, self.proj = backend, lazy, torch.nn.Linear(d_model, d_model)
    def forward(self, x, state=None, return_state=False):
        total = x.cumsum(1) + (0 if state is None else state[:, None])
        return (self.proj(total), total[:, -1]) if return_state else self.proj(total)
    def init_state(self, batch, device=None, dtype=None):
        return torch.zeros(batch, self.proj.in_features, device=device, dtype=dtype)
    def step(self, x, state):
        state = x if self.lazy else state + x
        return self.proj(state), state
    def state_elements(self, seq_len):
        return self.proj.in_features

class Echo(Task):
    name, chance_accuracy, min_len = "echo", 0.25, 1
    def __init__(self, vocab_size=4, overflow=0):
        self.vocab_size, self.overflow = vocab_size, overflow
    def sample(self, generator, batch, seq_len):
        inputs = torch.randint(0, self.vocab_size, (batch, seq_len), generator=generator)
        return Batch(inputs, inputs + self.overflow, torch.ones(batch, seq_len, dtype=torch.bool))
'''


def plant(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(MIXERS + textwrap.dedent(body))
    return path


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """What a test's plugins register is forgotten after it."""
    monkeypatch.setattr(registry, "MODEL_FAMILIES", dict(registry.MODEL_FAMILIES))
    monkeypatch.setattr(registry, "TASKS", dict(registry.TASKS))


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize(
    "name, says", [("notes.txt", "is not a Python file"), ("missing.py", "no such file"), (".", "is a folder")]
)
def test_a_path_that_is_not_a_plugin_file_is_one_line_and_exit_2(tmp_path, capsys, name, says):
    (tmp_path / "notes.txt").write_text("not python\n")
    path = tmp_path / name
    assert (
        main(
            [
                "run",
                "--plugin",
                str(path),
                "--models",
                "mingru",
                "--preset",
                "tiny",
                "--no-report",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert says in err and str(path) in err and "register_model" in err and "\n" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "body, says",
    [
        ("import no_such_package_here\n", "(line 1): ModuleNotFoundError"),
        ("x = 1\ndef broken(:\n", "(line 2): SyntaxError"),
    ],
)
def test_a_plugin_that_fails_to_import_names_the_file_the_line_and_the_fix(tmp_path, body, says):
    path = tmp_path / "mine.py"
    path.write_text(body)
    with pytest.raises(PluginError) as caught:
        load_plugins([path])
    message = str(caught.value)
    assert f"--plugin {path} failed to import {says}" in message and "fix the file" in message


@pytest.mark.parametrize(
    "body, builtin",
    [
        ("register_model('mingru', lambda d_model, backend, layer_index: Running(d_model, backend))", "family"),
        ("register_task('mqar', Echo)", "task"),
    ],
)
def test_a_plugin_cannot_replace_a_builtin_without_override(tmp_path, capsys, body, builtin):
    path = plant(tmp_path, "shadow", body)
    assert (
        main(
            [
                "run",
                "--plugin",
                str(path),
                "--models",
                "mingru",
                "--preset",
                "tiny",
                "--no-report",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert f"is a built-in {builtin}; pass override=True" in err and str(path) in err and "\n" not in err
    assert getattr(registry.MODEL_FAMILIES.get("mingru"), "origin", None) is None
    assert getattr(registry.TASKS.get("mqar"), "origin", None) is None


def test_override_replaces_a_builtin_and_the_records_would_say_so(tmp_path):
    path = plant(
        tmp_path,
        "override",
        "register_model('mingru', lambda d_model, backend, layer_index: Running(d_model, backend), override=True)",
    )
    load_plugins([path])
    assert registry.get_family("mingru").origin["path"] == str(path.resolve())
    assert registry.plugin_provenance("mingru", "mqar")["model"]["path"] == str(path.resolve())


def test_a_name_another_plugin_registered_is_refused_and_the_same_file_twice_is_not(tmp_path):
    body = "register_task('echo-twice', Echo)"
    first, second = plant(tmp_path, "first", body), plant(tmp_path, "second", body)
    load_plugins([first])
    load_plugins([first])  # the driver and a later command import the same file again
    with pytest.raises(PluginError, match=f"already registered by {first.resolve()}; pass override=True"):
        load_plugins([second])


# --------------------------------------------------------------------------- provenance


def test_what_a_plugin_registers_remembers_its_file_and_hash(tmp_path):
    path = plant(
        tmp_path,
        "mine",
        "register_model('prov-model', lambda d_model, backend, layer_index: "
        "Running(d_model, backend))\nregister_task('prov-task', Echo)\n",
    )
    origin = {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    load_plugins([path])
    assert registry.MODEL_FAMILIES["prov-model"].origin == origin == registry.TASKS["prov-task"].origin
    assert registry.plugin_provenance("prov-model", "mqar") == {"model": origin, "task": None}
    assert registry.plugin_provenance("mingru", "prov-task") == {"model": None, "task": origin}
    assert registry.plugin_provenance("mingru", "mqar") is None and registry.plugin_provenance("mingru", None) is None
    shipped = plugin_sources([path])
    path.write_text("raise RuntimeError('not the text that was shipped')\n")
    load_plugin_sources(shipped)  # a remote child: the shipped text is the file the driver read
    assert registry.MODEL_FAMILIES["prov-model"].origin == origin


def test_records_without_the_plugin_field_read_as_none():
    old = {"schema_version": 3, "kind": "accuracy", "model": "mingru", "status": "ok"}
    assert upgrade(old)["plugin"] is None and "plugin" not in old
    assert upgrade(dict(old, plugin={"model": None, "task": None}))["plugin"] == {"model": None, "task": None}


# --------------------------------------------------------------------------- the contract check


@pytest.mark.parametrize("family", registry.builtin_family_names())
def test_every_builtin_family_keeps_the_model_contract(family):
    assert check_model(family) == []


@pytest.mark.parametrize("task", registry.builtin_task_names())
def test_every_builtin_task_keeps_the_task_contract(task):
    assert check_task(task) == []


def test_plugin_problems_finds_each_broken_plugin_and_passes_a_good_one(tmp_path):
    good = plant(
        tmp_path,
        "good",
        "register_model('contract-good', lambda d_model, backend, layer_index: "
        "Running(d_model, backend))\nregister_task('contract-echo', Echo)\n",
    )
    signature = plant(
        tmp_path, "signature", "register_model('contract-signature', lambda layer_index: Running(16, 'default'))"
    )
    lazy = plant(
        tmp_path,
        "lazy",
        "register_model('contract-lazy', lambda d_model, backend, layer_index: Running(d_model, backend, lazy=True))",
    )
    overflow = plant(tmp_path, "overflow", "register_task('contract-overflow', lambda: Echo(overflow=1))")
    assert plugin_problems([good]) == []
    [problem] = plugin_problems([signature])
    assert problem.startswith("plugin model 'contract-signature': building it failed (TypeError")
    assert "make_mixer(d_model, backend, layer_index, **config)" in problem
    [problem, *_] = plugin_problems([lazy])
    assert problem.startswith("plugin model 'contract-lazy': step() disagrees with forward() at position 1 (max |diff|")
    [problem] = plugin_problems([overflow])
    assert problem.startswith("plugin task 'contract-overflow': sample(generator, 2, 16) gave scored targets in [1, 4]")
    assert "outside [0, vocab_size=4)" in problem
    assert plugin_problems([tmp_path / "notes.txt"]) == [
        f"--plugin {tmp_path / 'notes.txt'}: no such file; check "
        f"the path (a plugin is a .py file that calls "
        f"suite.register_model / suite.register_task)"
    ]


def test_a_backend_that_cannot_run_here_is_not_a_contract_problem(tmp_path):
    cuda_only = plant(
        tmp_path,
        "cuda_only",
        "register_model('contract-cuda', lambda d_model, backend, layer_index: "
        "Running(d_model, backend, lazy=True), backends=('kernel',), "
        "probe=lambda backend, device: None if device.startswith('cuda') "
        "else 'needs CUDA')",
    )
    assert plugin_problems([cuda_only]) == []


# --------------------------------------------------------------------------- the README's examples


def test_the_example_plugins_run_end_to_end_and_their_records_name_them(tmp_path):
    model, task = EXAMPLES / "my_model.py", EXAMPLES / "my_task.py"
    assert plugin_problems([model, task]) == []
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "--plugin",
                str(model),
                "--plugin",
                str(task),
                "--models",
                "my-ema,mingru",
                "--tasks",
                "my-lag",
                "--preset",
                "tiny",
                "--out",
                str(out),
                "--no-report",
            ]
        )
        == 0
    )
    origin = {
        path: {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        for path in (model, task)
    }
    records = read_records(out)
    assert records and all(record["status"] == "ok" for record in records)
    seen = {(record["kind"], record["model"]): record["plugin"] for record in records}
    assert seen == {
        ("accuracy", "my-ema"): {"model": origin[model], "task": origin[task]},
        ("accuracy", "mingru"): {"model": None, "task": origin[task]},
        ("perf", "my-ema"): {"model": origin[model], "task": None},  # perf cells: random tokens
        ("perf", "mingru"): None,
    }


def test_run_refuses_a_plugin_that_breaks_the_contract_before_any_cell(tmp_path, capsys):
    """The run command checks every plugin model and task in a child first: one line, exit 2,
    nothing written; a plugin that keeps the contract runs."""
    from suite.commands.cli import main

    lazy = plant(
        tmp_path,
        "lazy_run",
        "register_model('run-lazy', lambda d_model, backend, layer_index: Running(d_model, backend, lazy=True))",
    )
    out = tmp_path / "run"
    code = main(
        ["run", "--preset", "tiny", "--plugin", str(lazy), "--models", "run-lazy", "--no-report", "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "plugin model 'run-lazy': step() disagrees with forward()" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
