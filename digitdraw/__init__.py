"""digitdraw: draw a digit, and a dense network and a CNN read it."""

__version__ = "0.1.0"
