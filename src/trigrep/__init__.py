"""trigrep: indexed code search with ripgrep's syntax, flags and output."""

__version__ = "0.1.0"
