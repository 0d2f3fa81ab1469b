"""trigrep: indexed code search with ripgrep's syntax, flags and output.

    import trigrep
    for m in trigrep.Index("path/to/tree").search("PM_RESUME", ignore_case=True):
        print(m.path, m.line_number, m.line)

The API's names, the errors' too, are loaded on first use, so `import trigrep` (and the CLI,
when a daemon answers its search) loads no other module: no `from __future__` either.
"""

__version__ = "0.1.0"

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing on every search
if TYPE_CHECKING:
    from trigrep.api import ContextLine, Index, Match
    from trigrep.errors import Error, IndexFormatError, PathError, PatternError
    from trigrep.index import IndexStats

_LAZY = {"ContextLine": "trigrep.api", "Index": "trigrep.api", "Match": "trigrep.api",
         "IndexStats": "trigrep.index", "Error": "trigrep.errors",
         "IndexFormatError": "trigrep.errors", "PathError": "trigrep.errors",
         "PatternError": "trigrep.errors"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trigrep' has no attribute {name!r}")


__all__ = ["ContextLine", "Error", "Index", "IndexFormatError", "IndexStats", "Match", "PathError",
           "PatternError", "__version__"]
