"""A one-line progress bar with an ETA, on stderr (no dependency)."""
from __future__ import annotations

import sys
import time


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """``start(label)`` / ``finish(status)`` per cell. The ETA is the mean time per
    finished cell times the cells left (cells differ, so it is a rough guide)."""

    def __init__(self, total: int, stream=None, width: int = 24):
        self.total, self.done, self.width = total, 0, width
        self.stream = stream or sys.stderr
        self.began = time.perf_counter()
        self.counts: dict[str, int] = {}
        self.interactive = getattr(self.stream, "isatty", lambda: False)()

    def _bar(self) -> str:
        filled = int(self.width * self.done / max(1, self.total))
        return "#" * filled + "." * (self.width - filled)

    def _eta(self) -> str:
        if not self.done:
            return "?"
        elapsed = time.perf_counter() - self.began
        return format_seconds(elapsed / self.done * (self.total - self.done))

    def start(self, label: str) -> None:
        line = f"[{self._bar()}] {self.done}/{self.total} ETA {self._eta()}  {label}"
        if self.interactive:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self, status: str) -> None:
        self.done += 1
        self.counts[status] = self.counts.get(status, 0) + 1
        if status != "ok" and self.interactive:
            self.stream.write(f"  -> {status}\n")

    def close(self) -> str:
        elapsed = format_seconds(time.perf_counter() - self.began)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(self.counts.items()))
        line = f"{self.done}/{self.total} cells in {elapsed}: {summary or 'none'}"
        self.stream.write(("\r\033[K" if self.interactive else "") + line + "\n")
        self.stream.flush()
        return line
