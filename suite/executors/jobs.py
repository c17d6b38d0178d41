"""What one executor job is and how it becomes records: a plan's cell
(:func:`suite.measure.cell.run_cell`), or a ``bench speed`` unit, every subject of one length
and scope timed interleaved in one process (:func:`suite.measure.speed_units.run_unit`).

Every executor runs jobs through :func:`run_job` (in the child, or in this process with
``--isolation none``) and, when a job's process never returned its records (a timeout, a crash,
a kill), writes :func:`failure_records` for it on the driver: one record per cell of the job, so
every cell of the plan is accounted for either way. A job has ``label()`` for the progress line.
"""

from __future__ import annotations

from suite.measure.speed_units import SpeedUnit
from suite.plan.settings import RunContext


def run_job(job, device: str, context: RunContext) -> list[dict]:
    """The records of ``job`` run in this process (imports torch: call it in the child)."""
    if isinstance(job, SpeedUnit):
        from suite.measure.speed_units import run_unit

        return run_unit(job, device, context)
    from suite.measure.cell import run_cell

    return run_cell(job, device, context)


def failure_records(job, device: str, context: RunContext, status: str, error: str, wall_s: float) -> list[dict]:
    """The records of a job whose process never returned any, one per cell it holds."""
    if isinstance(job, SpeedUnit):
        from suite.measure.speed_units import unit_failure_records

        return unit_failure_records(job, device, context, status, error, wall_s)
    from suite.measure.cell import failure_records as cell_failure_records

    return cell_failure_records(job, device, context, status, error, wall_s)
