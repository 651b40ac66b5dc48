"""Shared fixtures and helpers for the whole test suite.

Real data (MNIST, pendigits) comes only from configuration: $DIGITDRAW_DATA_DIR and
$DIGITDRAW_PENDIGITS (or the pendigits folder beside MNIST). Without it a test that needs
the data is skipped with the reason, except in CI (env CI non-empty), where a missing data
set is a failure: a CI run that silently skipped half the suite would prove nothing.

Helpers for test files: `write_idx` (synthetic IDX files), `write_mnist_folder` (a complete
small MNIST folder) and `require` (the skip-or-fail rule). Test files import them with
`from conftest import ...` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from digitdraw import config, recipe

IDX_IMAGE_MAGIC = 2051
IDX_LABEL_MAGIC = 2049

# The small trained model every test that needs "a model that learned" shares.
TRAINED_SUBSET = 3000
TRAINED_EPOCHS = 2


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


# The real pendigits file, for the stroke tests: absent, they skip, but in CI they run and fail.
PENDIGITS = config.pendigits_path()
needs_pendigits = pytest.mark.skipif(
    not in_ci() and (PENDIGITS is None or not PENDIGITS.is_file()),
    reason=f"real pendigits file not found (set ${config.PENDIGITS_ENV} or ${config.DATA_DIR_ENV})",
)

# Hand-written strokes in the tablet's 500x500 box, y down, shared by the stroke tests.
SEVEN = [np.array([[100, 100], [400, 100], [220, 450]], float)]
ONE = [np.array([[250, 50], [250, 450]], float)]
# A 6 drawn by hand in one stroke, its loop going round clockwise (no pen-digit writer's does), as
# drawn and drawn backwards: two lines of `predict --strokes` input.
CLOCKWISE_SIX = Path(__file__).parent / "data" / "six_loop_drawn_clockwise.jsonl"


def on_square_canvas(strokes) -> list[np.ndarray]:
    """Strokes scaled to 200 px and centred on the Draw page's 280 px square canvas."""
    pts = [np.array(s, float) for s in strokes]
    lo, hi = np.concatenate(pts).min(axis=0), np.concatenate(pts).max(axis=0)
    return [(p - (lo + hi) / 2) * (200 / max(hi - lo)) + 140 for p in pts]


def require(condition: bool, reason: str) -> None:
    """Skip the test when `condition` is false, or fail it in CI."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def write_idx(
    path: str | os.PathLike,
    array: np.ndarray,
    magic: int | None = None,
    *,
    count: int | None = None,
    truncate: int | None = None,
) -> Path:
    """Write `array` (uint8, (n,) or (n, rows, cols)) as an IDX file; gzipped if `path` ends in .gz.

    `magic` defaults to the label / image magic number by the array's rank. `count`
    overrides the count in the header (a header that lies); `truncate` drops that many bytes
    from the end of the uncompressed content (a file cut short).
    """
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if magic is None:
        magic = IDX_LABEL_MAGIC if array.ndim == 1 else IDX_IMAGE_MAGIC
    n = len(array) if count is None else count
    header = struct.pack(">II", magic, n) + b"".join(struct.pack(">I", d) for d in array.shape[1:])
    content = header + array.tobytes()
    if truncate:
        content = content[:-truncate]
    if path.suffix == ".gz":
        content = gzip.compress(content, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@dataclass(frozen=True)
class SmallMnist:
    folder: Path
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def small_arrays(n_train: int = 40, n_test: int = 20, seed: int = 0):
    """Random uint8 images with labels 0-9 (every digit present), MNIST-shaped."""
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    y_train = (np.arange(n_train) % 10).astype(np.uint8)
    y_test = (np.arange(n_test) % 10).astype(np.uint8)
    return x_train, y_train, x_test, y_test


def write_mnist_folder(folder: str | os.PathLike, *, gz: bool = False, seed: int = 0, **sizes) -> SmallMnist:
    """A folder holding the four IDX files (original names, gzipped if asked) of a small MNIST."""
    folder = Path(folder)
    x_train, y_train, x_test, y_test = small_arrays(seed=seed, **sizes)
    ext = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{ext}", x_train)
    write_idx(folder / f"train-labels-idx1-ubyte{ext}", y_train)
    write_idx(folder / f"t10k-images-idx3-ubyte{ext}", x_test)
    write_idx(folder / f"t10k-labels-idx1-ubyte{ext}", y_test)
    return SmallMnist(folder, x_train, y_train, x_test, y_test)


# -- Fixtures --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _user_models_in_tmp(tmp_path_factory, monkeypatch):
    """No test ever writes a trained model into the repository's user_models/."""
    monkeypatch.setenv(config.USER_MODELS_ENV, str(tmp_path_factory.mktemp("user_models")))


@pytest.fixture(autouse=True)
def _feedback_db_in_tmp(tmp_path_factory, monkeypatch):
    """No test ever saves a correction into the user's real database (the user data folder)."""
    from digitdraw import feedback

    folder = tmp_path_factory.mktemp("feedback")
    monkeypatch.setenv(feedback.DB_URL_ENV, f"sqlite:///{folder / feedback.DB_FILENAME}")


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The configured MNIST folder ($DIGITDRAW_DATA_DIR); skipped without it, failed in CI."""
    folder = config.data_dir()
    require(folder is not None, f"MNIST not configured: set ${config.DATA_DIR_ENV} to the MNIST folder")
    require(folder.is_dir(), f"${config.DATA_DIR_ENV}={folder} is not a folder")
    return folder


@pytest.fixture(scope="session")
def pendigits_file() -> Path:
    """The configured pendigits train.jsonl; skipped without it, failed in CI."""
    path = config.pendigits_path()
    require(
        path is not None,
        f"pendigits not configured: set ${config.PENDIGITS_ENV}, or ${config.DATA_DIR_ENV} "
        "with a pendigits/train.jsonl beside the MNIST folder",
    )
    require(path.is_file(), f"pendigits file {path} does not exist")
    return path


# The fixtures below import what they need inside: conftest is loaded for every test file, and
# the ones that never train or load a model should not wait for TensorFlow at collection.
@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The real MNIST, loaded once through the project's loader."""
    from digitdraw import data

    return data.load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def trained_dense(mnist):
    """A dense model trained on 3000 images for 2 epochs (seeded): a model that learned.

    Returns the TrainResult; `.model` is the compiled, trained Keras model.
    """
    from digitdraw import training

    cfg = recipe.TrainConfig("dense", epochs=TRAINED_EPOCHS, subset=TRAINED_SUBSET, seed=0)
    return training.train(cfg, mnist)


@pytest.fixture(scope="session")
def model_files(tmp_path_factory, trained_dense, mnist):
    """{"dense": path, "cnn": path}: .keras files with cards, in a session temporary folder.

    dense is the trained fixture model; cnn is trained very briefly (it only has to be a
    real cnn model file, not a good one).
    """
    from digitdraw import cards, modelio, training
    from digitdraw.evaluate import evaluate
    from digitdraw.predict import Predictor

    folder = tmp_path_factory.mktemp("models")
    cnn = training.train(recipe.TrainConfig("cnn", epochs=1, subset=256, batch_size=64), mnist)
    paths = {}
    for name, result in (("dense", trained_dense), ("cnn", cnn)):
        model = modelio.inference_copy(result.model, name, result.config.api)
        test = evaluate(Predictor(model), mnist.x_test[:1000], mnist.y_test[:1000])
        card = cards.make_card(result, test, data_source=mnist.source, command=f"fixture {name}")
        paths[name] = modelio.save(model, folder / f"{name}.keras", card)
    return paths
