"""A one-line progress bar on stderr for index builds: files, bytes, rate, ETA.

Shown only on a terminal and only once a build has run for a second, so quick builds and
pipes stay silent. Plain ANSI, no dependency: it runs on the build path only.
"""

from __future__ import annotations

import sys
import time

from trigrep.index import BuildProgress

SHOW_AFTER_SECONDS = 1.0


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


class ProgressBar:
    """Context manager whose `update` is the builder's progress callback."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.shown = False

    def __enter__(self) -> ProgressBar:
        return self

    def update(self, p: BuildProgress) -> None:
        elapsed = time.monotonic() - self.started
        if not self.enabled or elapsed < SHOW_AFTER_SECONDS:
            return
        rate = p.bytes_done / elapsed if elapsed else 0.0
        left = (p.bytes_total - p.bytes_done) / rate if rate else 0.0
        share = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        bar = "#" * int(share * 30)
        sys.stderr.write(
            f"\rindexing [{bar:<30}] {p.files_done}/{p.files_total} files, "
            f"{_size(p.bytes_done)}/{_size(p.bytes_total)}, {_size(rate)}/s, ETA {left:.0f}s "
        )
        sys.stderr.flush()
        self.shown = True

    def __exit__(self, *exc: object) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
