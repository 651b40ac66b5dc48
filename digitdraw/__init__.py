"""digitdraw: draw a digit, and a dense network and a CNN read it."""

import os

# TensorFlow's C++ start-up chatter (CPU features, no CUDA) hides the CLI's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
