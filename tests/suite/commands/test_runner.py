"""The runner end to end with the tiny preset, failures as data, and the CLI's bad-input contract."""

import json
from contextlib import nullcontext
import subprocess
import sys
from pathlib import Path

import pytest

from suite.commands.cli import main
from suite.plan.presets import get_preset
from suite.progress import EXIT_CELLS_FAILED
from suite.registry import builtin_family_names
from suite.records.store import read_records

ROOT = Path(__file__).resolve().parents[3]

BROKEN_PLUGIN = '''
import torch
from suite import register_model

class Broken(torch.nn.Module):
    """Keeps the mixer contract at the few tokens the contract check uses, fails in training."""
    backend = "broken"
    def __init__(self, d_model):
        super().__init__()
        self.d_model = d_model
        self.weight = torch.nn.Parameter(torch.zeros(1))
    def init_state(self, batch, device=None, dtype=None):
        return torch.zeros(batch, self.d_model, device=device, dtype=dtype)
    def step(self, x, state):
        return x * self.weight, state
    def forward(self, x, state=None, return_state=False):
        if x.shape[1] > 8:
            raise RuntimeError("this mixer always fails")
        y = x * self.weight
        return (y, self.init_state(x.shape[0], x.device, x.dtype)) if return_state else y
    def state_elements(self, seq_len):
        return 1

register_model("broken", lambda d_model, backend, layer_index: Broken(d_model))
'''


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    plugin = out / "broken_plugin.py"
    plugin.write_text(BROKEN_PLUGIN)
    code = main(
        [
            "run",
            "--models",
            "all,broken",
            "--preset",
            "tiny",
            "--out",
            str(out / "run"),
            "--report",
            str(out / "report.html"),
            "--plugin",
            str(plugin),
        ]
    )
    assert code == EXIT_CELLS_FAILED  # the broken model's cells end in error; every other cell still runs
    return out


def test_tiny_run_has_a_record_for_every_model_and_task(tiny_run):
    records = read_records(tiny_run / "run")
    accuracy = {(r["family"], r["task"]) for r in records if r["kind"] == "accuracy" and r["status"] == "ok"}
    expected = {(family, task) for family in builtin_family_names() for task in get_preset("tiny").tasks}
    assert expected <= accuracy
    perf = {r["family"] for r in records if r["kind"] == "perf" and r["status"] == "ok"}
    assert set(builtin_family_names()) <= perf
    for record in records:
        if record["status"] == "ok":
            assert record["backend"] and record["params"] > 0 and record["state_bytes"] > 0


def test_a_failing_model_is_an_error_record_and_the_plan_completes(tiny_run):
    records = read_records(tiny_run / "run")
    broken = [r for r in records if r["model"] == "broken"]
    assert broken and all(r["status"] == "error" for r in broken)
    assert all("this mixer always fails" in r["error"] for r in broken)
    assert records[-1]["model"] != "broken" or len(records) > len(broken)


def test_tiny_run_writes_manifest_and_report(tiny_run):
    manifest = json.loads((tiny_run / "run" / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["preset"] == "tiny"
    html = (tiny_run / "report.html").read_text()
    assert "<html" in html.lower() and "mingru" in html


def test_perf_records_have_positive_metrics(tiny_run):
    """Every built-in family's perf cell succeeded (the broken plugin's is the only one allowed to fail)
    and measured positive throughputs."""
    perf = [r for r in read_records(tiny_run / "run") if r["kind"] == "perf" and r["model"] != "broken"]
    assert {r["family"] for r in perf} >= set(builtin_family_names())
    assert [r["model"] for r in perf if r["status"] != "ok"] == []
    for record in perf:
        assert record["train_tokens_per_s"] > 0 and record["decode_ms_per_token"] > 0
        assert record["peak_mem_method"]


def test_existing_run_dir_is_refused_and_left_alone(tiny_run, capsys):
    before = (tiny_run / "run" / "records.jsonl").read_bytes()
    code = main(["run", "--preset", "tiny", "--models", "mingru", "--out", str(tiny_run / "run")])
    assert code == 2
    assert "already holds records" in capsys.readouterr().err
    assert (tiny_run / "run" / "records.jsonl").read_bytes() == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--models", "mingur"], "did you mean 'mingru'"),
        (["run", "--tasks", "mqr"], "did you mean 'mqar'"),
        (["run", "--preset", "smok"], "did you mean 'smoke'"),
        (["run", "--preset", "tiny", "--seq-lens", "2"], "cannot make sequences of length 2"),
        (["report", "/nonexistent/run"], "not a run directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    code = main(argv + (["--out", str(tmp_path / "x")] if argv[0] == "run" else []))
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_a_bug_is_not_a_usage_error_it_shows_its_traceback_and_exits_1():
    """Only a UsageError is one line and exit 2: a ValueError from a bug propagates."""
    code = (
        "import runpy, sys\n"
        "import suite.commands.cli as cli\n"
        "def broken(args):\n"
        "    raise ValueError('a bug, not bad input')\n"
        "cli.command_list = broken\n"
        "sys.argv = ['suite', 'list']\n"
        "runpy.run_module('suite', run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr and "a bug, not bad input" in result.stderr


def test_module_entry_point_lists_everything():
    result = subprocess.run(
        [sys.executable, "-m", "suite", "list", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert {f["family"] for f in listing["families"]} >= set(builtin_family_names())
    mamba = next(f for f in listing["families"] if f["family"] == "mamba")
    assert any(not b["available"] and b["reason"] for b in mamba["backends"]) or listing["device"] != "cpu"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--models", ""], "no models selected"),
        (["run", "--seq-lens", "64,abc"], "expected comma-separated integers"),
        (["run", "--seq-lens", "0"], "positive integers"),
        (["run", "--device", "cuda"], "torch sees no CUDA device"),
        (["run", "--mem-limit", "lots"], "expected a size like 2GiB"),
        (["run", "--resume"], "--resume needs --out"),
    ],
)
def test_more_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit) if "--seq-lens" in argv or "--mem-limit" in argv else nullcontext():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_unwritable_out_is_refused(capsys):
    assert main(["run", "--preset", "tiny", "--out", "/proc/not-writable/run"]) == 2
    assert "cannot be written" in capsys.readouterr().err


def test_report_refuses_records_from_a_newer_schema(tiny_run, tmp_path, capsys):
    newer = tmp_path / "newer"
    newer.mkdir()
    lines = (tiny_run / "run" / "records.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record["schema_version"] = 99
    (newer / "records.jsonl").write_text("\n".join(lines[1:] + [json.dumps(record)]) + "\n")
    assert main(["report", str(newer), "--out", str(tmp_path / "r.html")]) == 2
    assert "schema_version 99" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_report_refuses_corrupt_records_naming_the_lines(tiny_run, tmp_path, capsys):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    lines = (tiny_run / "run" / "records.jsonl").read_text().splitlines()
    (corrupt / "records.jsonl").write_text("\n".join(lines[:2] + ["garbage"] + lines[2:]) + "\n")
    assert main(["report", str(corrupt), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "records.jsonl:3" in err and len(err.strip().splitlines()) == 1


def test_smoke_perf_records_carry_their_spread_and_numerics(tmp_path):
    """Every perf record of the smoke preset: median, IQR, minimum, at least 3 repeats, the host's
    load, a boolean timing_noisy (with its reason when set), and the numerics it ran under."""
    out = tmp_path / "run"
    code = main(
        [
            "run",
            "--preset",
            "smoke",
            "--kinds",
            "perf",
            "--models",
            "mingru,gru,transformer",
            "--perf-seq-lens",
            "64",
            "--out",
            str(out),
            "--no-report",
            "--tf32",
            "on",
        ]
    )
    assert code == 0
    records = read_records(out)
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    for record in records:
        assert "median_ms" not in record and "repeats" not in record  # v4: train_step_ms and timing_repeats
        assert record["iqr_ms"] >= 0 and 0 < record["min_ms"] <= record["train_step_ms"]
        assert record["timing_repeats"] >= 3
        assert record["prefill_iqr_ms"] >= 0 and record["decode_iqr_ms"] >= 0
        assert (
            isinstance(record["timing_noisy"], bool)
            and (record["timing_noisy_reason"] is None) != record["timing_noisy"]
        )
        assert record["load_avg_before"] is not None and record["load_avg_after"] is not None
        assert (record["tf32"], record["deterministic"], record["fill_uninitialized_memory"]) == (True, True, False)
        assert record["train_config"]["tf32"] is True
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["tf32"] == "on"
