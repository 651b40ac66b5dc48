"""TensorFlow without its start-up chatter, for the CLI and the app's training process.

TensorFlow 2.21 writes a dozen lines to stderr as it loads (oneDNN, "Could not find cuda
drivers", "All log messages before absl::InitializeLog()", cuInit errors). Some come from C++
code that runs before any setting is read, so `TF_CPP_MIN_LOG_LEVEL` alone does not stop them;
the only way is to point file descriptor 2 elsewhere while the library loads. `--verbose`
keeps them all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"


@contextlib.contextmanager
def _stderr_to_devnull():
    """fd 2 to /dev/null for the block: silences C and C++ writes, which sys.stderr never sees."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all (a detached process): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_verbose = False  # what import_tensorflow was asked: native_chatter_hidden keeps to it


@contextlib.contextmanager
def native_chatter_hidden():
    """The block's C and C++ lines on stderr hidden unless `--verbose` (TensorFlow Lite's converter
    prints its settings, its interpreter "INFO: Created TensorFlow Lite XNNPACK delegate"); Python's
    own errors still raise as usual."""
    if _verbose:
        yield
        return
    with _stderr_to_devnull():
        yield


def import_tensorflow(verbose: bool = False):
    """Import TensorFlow (and Keras) once; quietly unless `verbose`. Returns the tensorflow module.

    Call it before anything else imports TensorFlow: once loaded, its start-up lines are out.
    Errors while importing still raise as usual (Python's traceback is printed after fd 2 is back).
    """
    global _verbose
    _verbose = verbose
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # digitdraw/__init__ sets a default of 2 (warnings and errors); quiet means errors too
    # (a CPU-only machine's "failed call to cuInit"), verbose means everything.
    os.environ[LOG_LEVEL_ENV] = "0" if verbose else "3"
    if verbose:
        import tensorflow as tf

        return tf
    with _stderr_to_devnull():
        import keras  # noqa: F401  (loads TensorFlow and its native libraries)
        import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    return tf


def hide_library_warnings() -> None:
    """The libraries' Python warnings (a NumPy FutureWarning in Keras's ONNX export, Keras's notes on
    loading) are for their developers; the CLI shows them only with `--verbose`, like TensorFlow's log.
    Warnings of our own code (module digitdraw) still show."""
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(?!digitdraw)")
