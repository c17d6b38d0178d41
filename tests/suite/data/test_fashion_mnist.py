"""Finding Fashion-MNIST's IDX files: where they are looked for, the one-line hint when they are
not there, an identity that does not depend on gzip, and IDX files that disagree with themselves
refused."""

import gzip
import json

import pytest

from suite.commands.cli import main
from suite.data import DataMissing, fashion_mnist, fetch, image_set, locate, text_corpus
from suite.data.fashion_mnist import FILES
from suite.data.idx import IdxError, read_idx, write_idx
from suite.errors import UsageError
from suite.naming import UnknownName
from tests.suite.data.small_idx import write_set


@pytest.fixture(autouse=True)
def no_system_copy(tmp_path, monkeypatch):
    """The machine's own copy (if any) is not looked at: each test says where the files are."""
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system")


def test_missing_files_are_one_line_saying_how_to_get_them(tmp_path):
    with pytest.raises(DataMissing) as error:
        fetch("fashion-mnist", tmp_path / "root")
    message = str(error.value)
    assert "\n" not in message and "apt-get install dataset-fashion-mnist" in message
    assert f"in {tmp_path / 'root' / 'fashion-mnist'}" in message and all(name in message for name in FILES.values())


def test_the_cli_exits_2_when_they_are_missing(tmp_path, capsys):
    assert main(["data", "fetch", "fashion-mnist", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install dataset-fashion-mnist" in err


def test_found_in_the_data_root_then_in_the_system_folder(tmp_path):
    write_set(tmp_path / "system", compress=True)
    assert locate("fashion-mnist", tmp_path / "root").path == (tmp_path / "system").resolve()
    write_set(tmp_path / "root" / "fashion-mnist")
    info = fetch("fashion-mnist", tmp_path / "root")
    assert info.path == (tmp_path / "root" / "fashion-mnist").resolve() and info.licence == "MIT"


def test_the_identity_is_the_data_not_its_compression(tmp_path):
    a = image_set(write_set(tmp_path / "a"))[0]
    b = image_set(write_set(tmp_path / "b", compress=True))[0]
    c = image_set(write_set(tmp_path / "c", n_train=31))[0]
    assert a.sha256 == b.sha256 != c.sha256 and a.record_fields()["dataset"] == "fashion-mnist"


def test_a_user_directory_missing_a_file_names_it(tmp_path):
    directory = write_set(tmp_path / "mine")
    (directory / FILES["test_labels"]).unlink()
    with pytest.raises(DataMissing, match=f"{FILES['test_labels']} not in {directory}"):
        image_set(directory)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda data: data[:-3], "holds 13 values, its header says"),
        (lambda data: b"\x01" + data[1:], "not an IDX file"),
        (lambda data: data[:2] + b"\x0d" + data[3:], "only unsigned bytes"),
        (lambda data: gzip.compress(data)[:-8], "damaged gzip"),
    ],
    ids=["truncated", "magic", "float", "gzip"],
)
def test_a_damaged_idx_file_is_refused(tmp_path, damage, message):
    path = tmp_path / "x"
    write_idx(path, (4, 2, 2), bytes(range(16)))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(IdxError, match=message):
        read_idx(path)


def test_shapes_that_do_not_match_are_refused(tmp_path):
    directory = write_set(tmp_path / "mine")
    write_idx(directory / FILES["train_labels"], (29,), bytes(29))
    with pytest.raises(IdxError, match="shapes"):
        image_set(directory)
    write_idx(directory / FILES["train_labels"], (30,), bytes([10] * 30))
    with pytest.raises(IdxError, match="label 10"):
        image_set(directory)


def test_idx_round_trip(tmp_path):
    write_idx(tmp_path / "x.gz", (3, 2), bytes(range(6)), compress=True)
    assert read_idx(tmp_path / "x.gz") == ((3, 2), bytes(range(6)))


def test_the_listing_shows_where_it_is(tmp_path, capsys):
    write_set(tmp_path / "system")
    assert main(["data", "list", "--data-dir", str(tmp_path / "root"), "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["datasets"]}
    assert rows["fashion-mnist"]["here"] and rows["fashion-mnist"]["path"] == str((tmp_path / "system").resolve())


def test_names(tmp_path):
    with pytest.raises(UnknownName, match="did you mean 'fashion-mnist'"):
        locate("fashion_mnist", tmp_path)
    with pytest.raises(UsageError, match="not text"):
        text_corpus("fashion-mnist", tmp_path)
