"""The one exception family of trigrep: everything a user can cause derives from `Error`.

The CLI prints `trigrep: <message>` on one line and exits 2 for any of these; anything else
escaping is a bug.
"""


class Error(Exception):
    """Base of every error trigrep raises on purpose."""


class PatternError(Error):
    """The regex (or a glob, type name, pattern file) given by the user is invalid."""


class IndexFormatError(Error):
    """The on-disk index is missing, corrupt, truncated or of another format version."""


class IndexVersionError(IndexFormatError):
    """The index was written by another format version: safe to rebuild without asking."""


class IndexCorruptError(IndexFormatError):
    """The index is damaged (a checksum that does not match, a file missing or truncated): a
    search rebuilds it, as it does an index of another version; `damage` says what."""

    def __init__(self, damage: str) -> None:
        super().__init__(f"{damage}; run 'trigrep index' to rebuild")
        self.damage = damage


class IndexUnreadableError(IndexFormatError):
    """This user may not read the index (another user's, written under umask 077): a search
    goes on without it, as if there were none."""


class PathError(Error):
    """A path argument does not exist or cannot be read."""
