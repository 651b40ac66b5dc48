"""Specification of the MNIST loader: where it looks, what it accepts, and how it refuses.

Every case runs on small IDX files the tests write themselves; the real data set is only
used for its known per-class counts.
"""

from __future__ import annotations

import gzip
import os

import keras
import numpy as np
import pytest
from conftest import IDX_IMAGE_MAGIC, IDX_LABEL_MAGIC, write_idx, write_mnist_folder

from digitdraw import cli, config, data
from digitdraw.data import DataError, load_from_folder, load_mnist, read_idx_images, read_idx_labels

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def assert_same(loaded: data.Mnist, small) -> None:
    np.testing.assert_array_equal(loaded.x_train, small.x_train)
    np.testing.assert_array_equal(loaded.y_train, small.y_train)
    np.testing.assert_array_equal(loaded.x_test, small.x_test)
    np.testing.assert_array_equal(loaded.y_test, small.y_test)
    for x in (loaded.x_train, loaded.x_test):
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28)
    for y in (loaded.y_train, loaded.y_test):
        assert y.dtype == np.uint8 and y.ndim == 1


# -- What it reads ---------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_reads_the_four_idx_files(tmp_path, gz):
    small = write_mnist_folder(tmp_path, gz=gz)
    loaded = load_from_folder(tmp_path)
    assert_same(loaded, small)
    assert loaded.source == str(tmp_path)


def test_reads_the_dotted_idx_names(tmp_path):
    small = write_mnist_folder(tmp_path)
    for path in tmp_path.iterdir():
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    assert_same(load_from_folder(tmp_path), small)


def test_reads_keras_mnist_npz(tmp_path):
    small = write_mnist_folder(tmp_path / "src")
    np.savez(
        tmp_path / "mnist.npz",
        x_train=small.x_train,
        y_train=small.y_train.astype(np.int64),
        x_test=small.x_test,
        y_test=small.y_test.astype(np.int64),
    )
    loaded = load_from_folder(tmp_path)
    assert_same(loaded, small)
    assert loaded.source.endswith("mnist.npz")


def test_mnist_files_names_what_the_loader_would_read_without_reading_it(tmp_path):
    folder = tmp_path / "mnist"
    assert data.mnist_files(folder) is None  # no such folder
    folder.mkdir()
    assert data.mnist_files(folder) is None  # an empty one
    # Empty files: found by name, never decoded (reading them would fail).
    names = ["train-images-idx3-ubyte.gz", "train-labels.idx1-ubyte", "t10k-images-idx3-ubyte"]
    for name in names:
        (folder / name).write_bytes(b"")
    assert data.mnist_files(folder) is None  # three of the four
    (folder / "mnist.npz").write_bytes(b"")
    assert data.mnist_files(folder) == {"npz": folder / "mnist.npz"}
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    assert data.mnist_files(folder) == {  # the IDX files come first, as load_from_folder reads them
        key: folder / name
        for key, name in zip(data.IDX_NAMES, [*names, "t10k-labels-idx1-ubyte.gz"], strict=True)
    }


def test_load_mnist_reads_the_configured_folder(tmp_path, monkeypatch):
    small = write_mnist_folder(tmp_path / "env", gz=True)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(small.folder))
    assert_same(load_mnist(), small)


def test_explicit_folder_beats_the_environment(tmp_path, monkeypatch):
    good = write_mnist_folder(tmp_path / "good")
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    assert config.data_dir(good.folder) == good.folder
    assert_same(load_mnist(good.folder), good)


def test_cli_data_dir_beats_the_environment(tmp_path, monkeypatch, capsys):
    good = write_mnist_folder(tmp_path / "good", n_train=30, n_test=10)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    grid = tmp_path / "grid.png"
    assert cli.main(["data", "--data-dir", str(good.folder), "--grid", str(grid)]) == 0
    out = capsys.readouterr().out
    assert f"source: {good.folder}" in out
    assert "train: 30 images" in out and "test: 10 images" in out
    assert grid.is_file()


# -- The decoded copy on disk ------------------------------------------------------------


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """The user cache folder, in tmp_path."""
    monkeypatch.setenv(config.CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def refuse_idx_reads(monkeypatch):
    def no(path):
        raise AssertionError(f"{path} was decoded again")

    monkeypatch.setattr(data, "read_idx_images", no)
    monkeypatch.setattr(data, "read_idx_labels", no)


def test_decoded_once_then_read_from_the_npz_beside_the_files(tmp_path, monkeypatch, cache_dir):
    small = write_mnist_folder(tmp_path / "mnist", gz=True)
    assert_same(load_from_folder(small.folder), small)
    assert (small.folder / data.CACHE_NAME).is_file() and not cache_dir.exists()
    refuse_idx_reads(monkeypatch)
    loaded = load_from_folder(small.folder)
    assert_same(loaded, small)
    assert loaded.source == str(small.folder)  # the cache does not change what the card records


def test_changed_files_are_decoded_again(tmp_path):
    write_mnist_folder(tmp_path, seed=0)
    load_from_folder(tmp_path)
    newer = write_mnist_folder(tmp_path, seed=1, n_train=50)  # other digits, another size
    assert_same(load_from_folder(tmp_path), newer)


def test_a_damaged_cache_is_ignored(tmp_path):
    small = write_mnist_folder(tmp_path)
    load_from_folder(tmp_path)
    (tmp_path / data.CACHE_NAME).write_bytes(b"not an npz")
    assert_same(load_from_folder(tmp_path), small)


def test_a_read_only_folder_is_cached_in_the_user_cache_folder(tmp_path, monkeypatch, cache_dir):
    small = write_mnist_folder(tmp_path / "mnist")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode))
    load_from_folder(small.folder)
    assert not (small.folder / data.CACHE_NAME).exists()
    assert [p.suffix for p in cache_dir.iterdir()] == [".npz"]
    refuse_idx_reads(monkeypatch)
    assert_same(load_from_folder(small.folder), small)


def test_a_folder_marked_read_only_is_left_alone_even_when_writable(tmp_path, cache_dir):
    # root may write anywhere; a folder without write bits is still somebody's read-only data.
    small = write_mnist_folder(tmp_path / "mnist")
    small.folder.chmod(0o555)
    try:
        assert_same(load_from_folder(small.folder), small)
        assert sorted(p.name for p in small.folder.iterdir()) == sorted(data.IDX_NAMES.values())
        assert [p.suffix for p in cache_dir.iterdir()] == [".npz"]
    finally:
        small.folder.chmod(0o755)


def test_never_cached_inside_the_repository(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    inside = tmp_path / "data" / "mnist"
    inside.mkdir(parents=True)
    assert config.cache_dir() in data.cache_file(inside).parents


# -- What it refuses: each error names the file and the problem ----------------------


@pytest.fixture
def folder(tmp_path):
    return write_mnist_folder(tmp_path / "mnist").folder


def refused(folder, *words: str) -> str:
    with pytest.raises(DataError) as info:
        load_from_folder(folder)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


@pytest.mark.parametrize(
    "name, magic",
    [("train-images-idx3-ubyte", IDX_LABEL_MAGIC), ("t10k-labels-idx1-ubyte", IDX_IMAGE_MAGIC)],
)
def test_bad_magic_number(folder, name, magic):
    array = np.zeros((10, 28, 28) if "images" in name else (10,), np.uint8)
    write_idx(folder / name, array, magic)
    refused(folder, name, "magic number", str(magic))


def test_foreign_file_under_an_idx_name(folder):
    (folder / "train-labels-idx1-ubyte").write_bytes(b"<html>Not Found</html>\n")
    refused(folder, "train-labels-idx1-ubyte", "magic number")


def test_truncated_images_name_the_file(folder):
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((40, 28, 28), np.uint8), truncate=100)
    refused(folder, "train-images-idx3-ubyte", "truncated")


def test_truncated_labels_name_the_file(folder):
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(20, np.uint8), truncate=3)
    refused(folder, "t10k-labels-idx1-ubyte", "truncated")


def test_header_that_claims_more_images_than_the_file_holds(folder):
    write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.uint8), count=10_000)
    refused(folder, "t10k-images-idx3-ubyte", "10000 images")


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"])
def test_file_shorter_than_its_header(folder, name):
    (folder / name).write_bytes(b"\x00\x00\x08")
    refused(folder, name, "too short")


def test_truncated_gzip_names_the_file(tmp_path):
    folder = write_mnist_folder(tmp_path, gz=True).folder
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    refused(folder, "train-images-idx3-ubyte.gz", "cannot read")


def test_not_gzip_under_a_gz_name(tmp_path):
    folder = write_mnist_folder(tmp_path, gz=True).folder
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"plain bytes, not gzip")
    refused(folder, "t10k-labels-idx1-ubyte.gz", "cannot read")


def test_images_of_the_wrong_size(folder):
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((40, 32, 32), np.uint8))
    refused(folder, "train-images-idx3-ubyte", "32x32", "28x28")


def test_labels_above_nine(folder):
    labels = np.zeros(40, np.uint8)
    labels[7] = 12
    write_idx(folder / "train-labels-idx1-ubyte", labels)
    refused(folder, "train-labels-idx1-ubyte", "label 12", "0-9")


def test_image_and_label_counts_must_agree(folder):
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(19, np.uint8))
    refused(folder, str(folder), "test set", "20 images", "19 labels")


def test_missing_folder(tmp_path):
    refused(tmp_path / "absent", str(tmp_path / "absent"), "does not exist")


def test_a_file_given_as_the_folder_is_called_a_file(tmp_path):
    (tmp_path / "mnist.zip").write_bytes(b"PK")
    refused(tmp_path / "mnist.zip", str(tmp_path / "mnist.zip"), "is a file; give the folder")


def test_folder_with_no_files(tmp_path):
    message = refused(tmp_path, str(tmp_path), "mnist.npz")
    for stem in data.IDX_NAMES.values():
        assert stem in message


def test_folder_missing_one_file_says_which(folder):
    (folder / "t10k-images-idx3-ubyte").unlink()
    message = refused(folder, "missing: t10k-images-idx3-ubyte")
    assert "train-images" not in message


def test_npz_with_wrong_dtype(tmp_path):
    z = np.zeros((5, 28, 28), np.float32)
    y = np.zeros(5, np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=z, y_train=y, x_test=z, y_test=y)
    refused(tmp_path, "mnist.npz", "float32", "uint8")


def test_npz_with_bad_labels(tmp_path):
    x = np.zeros((5, 28, 28), np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=np.full(5, 10), x_test=x, y_test=np.zeros(5))
    refused(tmp_path, "mnist.npz", "y_train", "0-9")


def test_corrupt_npz(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 this is not really a zip")
    refused(tmp_path, "mnist.npz", "not a readable")


def test_npz_missing_an_array(tmp_path):
    x = np.zeros((5, 28, 28), np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=np.zeros(5, np.uint8), x_test=x)
    refused(tmp_path, "mnist.npz", "y_test")


def test_readers_check_one_file_directly(tmp_path):
    images = write_idx(tmp_path / "i.gz", np.full((3, 28, 28), 7, np.uint8))
    labels = write_idx(tmp_path / "l", np.array([0, 9, 5], np.uint8))
    assert read_idx_images(images).shape == (3, 28, 28)
    assert read_idx_labels(labels).tolist() == [0, 9, 5]
    with pytest.raises(DataError, match="IDX labels"):
        read_idx_labels(images)


# -- No folder and no internet ---------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    """No data folder configured, and Keras's download fails as it does without a network."""

    def no_network(*args, **kwargs):
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz: "
            "None -- [Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    monkeypatch.setattr(data, "_cache", {})


def test_offline_without_a_folder_is_one_clear_error(offline):
    with pytest.raises(DataError) as info:
        load_mnist()
    message = str(info.value)
    assert "--data-dir" in message and config.DATA_DIR_ENV in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # What went wrong, in Keras's words: not just "(Exception)".
    assert "Temporary failure in name resolution" in message and "(Exception)" not in message


def test_offline_cli_prints_one_line_not_a_traceback(offline, tmp_path, capsys):
    assert cli.main(["data", "--grid", str(tmp_path / "g.png")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("digitdraw: error: MNIST is not available")
    assert "--data-dir" in lines[0] and config.DATA_DIR_ENV in lines[0]
    assert "Traceback" not in captured.err + captured.out


def test_folder_is_used_without_touching_the_download(tmp_path, monkeypatch, offline):
    small = write_mnist_folder(tmp_path)
    monkeypatch.setenv(config.DATA_DIR_ENV, str(tmp_path))
    assert_same(load_mnist(), small)


# -- The real data set -----------------------------------------------------------------


def test_real_mnist_counts_per_class(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8
    assert np.bincount(mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_COUNTS


def test_real_mnist_is_white_on_black(mnist):
    # Mostly background (0), with full-intensity ink.
    assert np.median(mnist.x_test) == 0 and mnist.x_test.max() == 255


def test_real_files_are_gzip_idx(mnist_dir):
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as f:
        assert int.from_bytes(f.read(4), "big") == IDX_LABEL_MAGIC
