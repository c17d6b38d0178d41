"""A one-line progress bar with an ETA, on stderr (no dependency), and the run's closing account.

Words, the same on the console and in the report: a *cell* is one entry of the plan (one
training, or one perf measurement); an accuracy cell scored at several lengths writes one
*record* per length. Every count here is of cells.

What :meth:`Progress.close` says after the summary line, each on a line of its own: every cell
that ended in ``error``, ``timeout``, ``nan`` or ``oom`` with its one-line error, every skipped
model with its reason (once per model and reason), and every cell the ``time_limit_s`` guard cut
(its result depends on the machine's load, so it is kept out of verdicts). The run's exit status
follows from it (:meth:`Progress.exit_status`, :data:`EXIT_CODES`).
"""

from __future__ import annotations

import sys
import time

from suite.records.schema import is_max_len_probe

# `suite run`'s exit status: 2 is bad input (suite.commands.cli), 130 an interrupt (Ctrl-C, SIGTERM).
EXIT_OK = 0  # every cell has a result: ok, or a measured oom / nan / skipped with its reason
EXIT_CELLS_FAILED = 3  # some cell ended in error or timeout: the run is incomplete; the records say why
EXIT_CODES = {
    EXIT_OK: "every cell has a result",
    2: "bad input, nothing run",
    EXIT_CELLS_FAILED: "some cell ended in error or timeout",
    130: "interrupted: --resume finishes it",
}
FAILED = ("error", "timeout")  # a cell that did not measure what it was asked
REPORTED = ("error", "timeout", "nan", "oom")  # statuses whose error line the console repeats


def cell_name(record: dict) -> str:
    """A record's cell in words: ``mingru mqar T=64 seed=0``."""
    what = record.get("task") or (record.get("train_config") or {}).get("probe") or record.get("kind")
    return f"{record.get('model')} {what} T={record.get('seq_len')} seed={record.get('seed')}"


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
        self.failed = 0  # cells in FAILED, max-len probes aside
        self.problems: list[str] = []  # one line per cell in REPORTED
        self.skipped: dict[tuple, int] = {}  # (model, reason) -> cells
        self.cut: list[str] = []  # cells the time_limit_s guard cut
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

    def finish(self, status: str, records=()) -> None:
        """One cell ended with ``status``; ``records`` (its records) say why where it is not ok."""
        self.done += 1
        self.counts[status] = self.counts.get(status, 0) + 1
        first = records[0] if records else {}
        error = first.get("error") or "no error text"
        if status in REPORTED and not is_max_len_probe(first):  # a probe's failure is the boundary its search reports
            self.failed += status in FAILED
            self.problems.append(f"{status}: {cell_name(first)}: {error}" if first else status)
            self.stream.write(("\n" if self.interactive else "") + f"  -> {status}: {error}\n")
        elif status == "skipped":
            self.skipped.setdefault((first.get("model"), error), 0)
            self.skipped[(first.get("model"), error)] += 1
        if status == "ok" and any(record.get("cut_by_time") for record in records):
            self.cut.append(
                f"{cell_name(first)} after {first.get('steps_trained')} steps "
                f"(time_limit_s={first.get('time_limit_s'):g})"
            )

    def account(self) -> list[str]:
        """The lines after the summary: failures, skips with their reasons, cells cut by time."""
        lines = [f"  {problem}" for problem in self.problems]
        lines += [
            f"  skipped: {model} ({count} cell{'s' if count > 1 else ''}): {reason}"
            for (model, reason), count in self.skipped.items()
        ]
        if self.cut:
            lines.append(
                f"  {len(self.cut)} cell(s) cut by time, kept out of verdicts: their result depends on the "
                "machine's load; rerun on a quieter machine or with a larger --set time_limit_s"
            )
            lines += [f"    {cut}" for cut in self.cut]
        return lines

    def exit_status(self) -> int:
        return EXIT_CELLS_FAILED if self.failed else EXIT_OK

    def close(self) -> str:
        elapsed = format_seconds(time.perf_counter() - self.began)
        summary = ", ".join(f"{count} {status}" for status, count in sorted(self.counts.items()))
        line = f"{self.done}/{self.total} cells in {elapsed}: {summary or 'none'}"
        self.stream.write(("\r\033[K" if self.interactive else "") + "\n".join([line, *self.account()]) + "\n")
        self.stream.flush()
        return line
