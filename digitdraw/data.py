"""MNIST from a configured folder (IDX files or Keras's mnist.npz), else Keras's download.

Every file is checked as it is read, so a truncated or foreign file fails with a message
that names it instead of surfacing later as a shape error inside Keras.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import struct
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitdraw import config

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(RuntimeError):
    """MNIST could not be found or read; the message says what to do."""


@dataclass(frozen=True)
class Mnist:
    """The four arrays: images uint8 (n, 28, 28), white on black; labels uint8 (n,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read the file ({exc}).") from exc


def read_idx_images(path: Path) -> np.ndarray:
    """An IDX3 image file -> uint8 (n, 28, 28)."""
    raw = _read_bytes(path)
    if len(raw) < 16:
        raise DataError(f"{path}: too short for an IDX image header ({len(raw)} bytes).")
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != IMAGE_MAGIC:
        raise DataError(f"{path}: magic number {magic}, expected {IMAGE_MAGIC} (IDX images).")
    if (rows, cols) != (28, 28):
        raise DataError(f"{path}: images are {rows}x{cols}, expected 28x28.")
    expected = 16 + count * rows * cols
    if len(raw) != expected:
        raise DataError(
            f"{path}: {len(raw)} bytes for {count} images, expected {expected} (truncated or corrupt)."
        )
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)


def read_idx_labels(path: Path) -> np.ndarray:
    """An IDX1 label file -> uint8 (n,), every label in 0-9."""
    raw = _read_bytes(path)
    if len(raw) < 8:
        raise DataError(f"{path}: too short for an IDX label header ({len(raw)} bytes).")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != LABEL_MAGIC:
        raise DataError(f"{path}: magic number {magic}, expected {LABEL_MAGIC} (IDX labels).")
    if len(raw) != 8 + count:
        raise DataError(
            f"{path}: {len(raw)} bytes for {count} labels, expected {8 + count} (truncated or corrupt)."
        )
    labels = np.frombuffer(raw, np.uint8, offset=8)
    if labels.size and labels.max() > 9:
        raise DataError(f"{path}: label {int(labels.max())} found; labels must be 0-9.")
    return labels


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def mnist_files(folder: str | os.PathLike) -> dict[str, Path] | None:
    """MNIST's files in `folder`, found by name without reading them; None when it has neither set.

    The four IDX files (gzipped or not) under IDX_NAMES' keys, or {"npz": mnist.npz}: what
    `load_from_folder` would read, the IDX files first.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_NAMES.items()}
    if all(paths.values()):
        return paths
    npz = folder / "mnist.npz"
    return {"npz": npz} if npz.is_file() else None


def _check_pair(images: np.ndarray, labels: np.ndarray, what: str, folder: Path) -> None:
    if len(images) != len(labels):
        raise DataError(f"{folder}: {what} has {len(images)} images but {len(labels)} labels.")


# -- The decoded copy on disk --------------------------------------------------------------
# Decoding the gzipped IDX files took 3.4 s where the uncompressed .npz of the same arrays took
# 0.2 s (one loaded 2-core machine, bench figures in the README); every short run (the app
# starts each one in a fresh process) and every CLI command gains it.

CACHE_NAME = ".digitdraw-mnist-decoded.npz"
_CACHE_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def _cache_key(paths: list[Path]) -> str:
    """Names, sizes and modification times of the source files: any change means a new key."""
    parts = [f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths]
    return "\n".join(parts)


def cache_file(folder: Path) -> Path:
    """Where the decoded copy of `folder`'s IDX files lives: beside them when the folder is
    writable and outside the repository, else in the user cache folder (config.cache_dir)."""
    folder = folder.resolve()
    beside = folder / CACHE_NAME
    inside_repo = config.REPO_ROOT == folder or config.REPO_ROOT in folder.parents
    # A folder marked read-only (no write bit) is left alone even by root, whom os.access lets write.
    marked_writable = bool(folder.stat().st_mode & 0o222)
    if not inside_repo and marked_writable and os.access(folder, os.W_OK):
        return beside
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return config.cache_dir() / f"mnist-{digest}.npz"


def read_cached(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays a `write_cached` file holds, or None when it is absent, stale (another key) or damaged."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if "key" not in f.files or str(f["key"]) != key:
                return None
            return {name: f[name] for name in f.files if name != "key"}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):
        return None


def write_cached(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep `arrays` under `key` in an uncompressed .npz: atomic (a reader never sees half a
    file) and best effort (a cache that cannot be written only costs the next run time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, key=np.array(key), **arrays)
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared data folder's cache from others
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


def load_from_folder(folder: Path, *, use_cache: bool = True) -> Mnist:
    """Read the four IDX files (gzipped or not), or mnist.npz, from `folder`.

    The IDX files are decoded once and kept as an uncompressed .npz (see `cache_file`); the
    copy is used while the files' names, sizes and times are unchanged.
    """
    if folder.exists() and not folder.is_dir():
        raise DataError(f"MNIST data folder {folder} is a file; give the folder that holds the MNIST files.")
    if not folder.is_dir():
        raise DataError(f"MNIST data folder {folder} does not exist.")
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_NAMES.items()}
    if all(paths.values()):
        key = _cache_key(list(paths.values()))
        cached = read_cached(cache_file(folder), key) if use_cache else None
        if cached is not None and set(cached) == set(_CACHE_ARRAYS):
            return Mnist(**cached, source=str(folder))
        arrays = {
            key: (read_idx_images if key.endswith("images") else read_idx_labels)(path)
            for key, path in paths.items()
        }
        _check_pair(arrays["train_images"], arrays["train_labels"], "the training set", folder)
        _check_pair(arrays["test_images"], arrays["test_labels"], "the test set", folder)
        decoded = dict(zip(_CACHE_ARRAYS, arrays.values(), strict=True))  # IDX_NAMES' order
        if use_cache:
            write_cached(cache_file(folder), key, decoded)
        return Mnist(**decoded, source=str(folder))
    npz = folder / "mnist.npz"
    if npz.is_file():
        return load_npz(npz)
    missing = [IDX_NAMES[k] + "[.gz]" for k, p in paths.items() if p is None]
    raise DataError(
        f"MNIST data folder {folder} has neither the four IDX files nor mnist.npz "
        f"(missing: {', '.join(missing)})."
    )


def load_npz(path: Path) -> Mnist:
    """Keras's mnist.npz (x_train, y_train, x_test, y_test)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable mnist.npz ({exc}).") from exc
    x_train, y_train, x_test, y_test = arrays
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8:
            raise DataError(f"{path}: x_{name} is {x.dtype} {x.shape}, expected uint8 (n, 28, 28).")
        if y.shape != (len(x),) or (y.size and (y.min() < 0 or y.max() > 9)):
            raise DataError(f"{path}: y_{name} must hold {len(x)} labels in 0-9.")
    return Mnist(x_train, y_train.astype(np.uint8), x_test, y_test.astype(np.uint8), source=str(path))


def _download() -> Mnist:
    import keras  # deferred: reading a folder should not pay for importing Keras

    try:
        # Keras says "Downloading data from ..." on standard output, which is the commands' data
        # (predict's JSON lines): there it is a progress note, on standard error.
        with contextlib.redirect_stdout(sys.stderr):
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # Keras raises plain Exceptions for network failures
        # Keras's own message says what went wrong ("URL fetch failure on https://...: None --
        # [Errno -3] Temporary failure in name resolution"); a bare class name would not.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(
            "MNIST is not available: no data folder is configured and Keras could not "
            f"download it: {reason}. Point digitdraw at a folder holding the four "
            f"MNIST IDX files or mnist.npz with --data-dir DIR or ${config.DATA_DIR_ENV}=DIR, "
            "or connect to the internet once so Keras can download and cache it."
        ) from None
    return Mnist(x_train, y_train, x_test, y_test, source="keras download")


_cache: dict[str, Mnist] = {}


def load_mnist(data_dir: str | os.PathLike | None = None) -> Mnist:
    """MNIST from --data-dir / $DIGITDRAW_DATA_DIR, else Keras's download (cached per process)."""
    folder = config.data_dir(data_dir)
    key = str(folder) if folder else "<download>"
    if key not in _cache:
        _cache[key] = load_from_folder(folder) if folder else _download()
    return _cache[key]


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 or float images (n, 28, 28) -> float32 in [0, 1], the models' input."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32)
