"""Nagare: stateful component web applications, and the servers to run them."""

__version__ = "0.6.0.dev0"
