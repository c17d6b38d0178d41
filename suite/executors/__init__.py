"""Executors run the jobs of a plan and hand each job's records to one :class:`RecordSink`.

Every executor has the shape ``run(jobs, dispatch, sink[, options])``: the
jobs (a plan's cells, or ``bench speed``'s units: :mod:`suite.executors.jobs`), a
:class:`suite.plan.settings.Dispatch` (device, run context, child settings,
timeout), the sink, and the executor's own options (``suite.executors.options``).
Every record a run writes passes through the sink: the driver is the single writer
of ``records.jsonl``.
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
        """Append a job's records; ``label`` starts its progress line when the job was not
        announced before it ran (remote executors learn where it ran only from the records).
        The progress bar moves one step per cell: a cell scored at several lengths gives several
        records of one ``cell_key``, a ``bench speed`` unit one record per cell."""
        for record in records:
            self.writer.append(record)
        if self.progress:
            if label is not None:
                self.progress.start(label)
            by_cell: dict = {}
            for record in records:
                by_cell.setdefault(record.get("cell_key"), []).append(record)
            for cell_records in by_cell.values():
                self.progress.finish(cell_records[0]["status"], cell_records)

    def put_derived(self, record: dict) -> None:
        """Append a record derived from cells already written (a max-len boundary, from its
        probes): written like every record, but no cell of the plan, so no progress step."""
        self.writer.append(record)

    def probe_found(self) -> None:
        """One more cell than planned (a max-len probe is found, not planned)."""
        if self.progress:
            self.progress.total = max(self.progress.total, self.progress.done + 1)
