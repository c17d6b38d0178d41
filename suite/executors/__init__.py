"""Executors run the cells of a plan and hand each cell's records to one :class:`RecordSink`.

Every executor has the shape ``run(cells, dispatch, sink[, options])``: the
cells, a :class:`suite.plan.settings.Dispatch` (device, run context, child settings,
timeout), the sink, and the executor's own options (``suite.executors.options``).
"""

from __future__ import annotations

from pathlib import Path


class RecordSink:
    """The driver's single writer of ``records.jsonl`` and its progress bar, shared by every executor."""

    def __init__(self, writer, progress=None):
        self.writer, self.progress = writer, progress

    @property
    def run_dir(self) -> Path:
        return Path(self.writer.path).parent

    def start(self, label: str) -> None:
        if self.progress:
            self.progress.start(label)

    def put(self, records: list[dict], label: str | None = None) -> None:
        """Append a cell's records; ``label`` starts its progress line when the cell was not
        announced before it ran (remote executors learn where it ran only from the records)."""
        for record in records:
            self.writer.append(record)
        if self.progress:
            if label is not None:
                self.progress.start(label)
            self.progress.finish(records[0]["status"], records)

    def probe_found(self) -> None:
        """One more cell than planned (a max-len probe is found, not planned)."""
        if self.progress:
            self.progress.total = max(self.progress.total, self.progress.done + 1)
