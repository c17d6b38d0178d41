"""``--executor slurm`` without Slurm: the submitit parameters it sets, the driver loop over jobs,
and a job that ends without a result."""

import types

import pytest

from suite.executors import remote, slurm
from suite.executors.ray_executor import ExecutorError
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset
from suite.plan.settings import Dispatch, RunContext


@pytest.fixture
def cells():
    return build_plan(get_preset("tiny"), models=["mingru", "gru"], tasks=["mqar"], kinds=("accuracy",))


class FakeExecutor:
    def __init__(self, folder, cluster):
        self.folder, self.cluster, self.parameters, self.batches = folder, cluster, {}, []

    def update_parameters(self, **parameters):
        self.parameters.update(parameters)

    def map_array(self, function, cells, dispatches):
        self.batches.append([cell.model for cell in cells])
        return [
            FakeJob(function, cell, dispatch, f"{len(self.batches)}_{i}")
            for i, (cell, dispatch) in enumerate(zip(cells, dispatches))
        ]


class FakeJob:
    def __init__(self, function, cell, dispatch, job_id):
        self.function, self.cell, self.dispatch, self.job_id = function, cell, dispatch, job_id

    def done(self):
        return True

    def result(self):
        if self.cell.model == "gru":
            raise RuntimeError("Job was cancelled\nsecond line")
        records = [{"cell_key": self.cell.key, "hostname": "node1", "status": "ok"}]
        return {"result": records, "failure": None, "hostname": "node1", "cuda_visible_devices": None, "wall_s": 1.0}

    def cancel(self, check=True):
        pass


@pytest.fixture
def fake_submitit(monkeypatch):
    made = []

    def auto_executor(folder, cluster):
        made.append(FakeExecutor(folder, cluster))
        return made[-1]

    monkeypatch.setattr(slurm, "import_submitit", lambda: types.SimpleNamespace(AutoExecutor=auto_executor))
    monkeypatch.setattr(slurm.shutil, "which", lambda name: "/usr/bin/sbatch")
    return made


def test_submitit_is_installed_here():
    assert slurm.import_submitit().__name__ == "submitit"


def test_without_sbatch_slurm_is_refused_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(slurm.shutil, "which", lambda name: None)
    with pytest.raises(ExecutorError, match="no `sbatch` on this machine"):
        slurm.make_executor(tmp_path, slurm.SlurmOptions(), 10)


def test_slurm_parameters_come_from_the_options(fake_submitit, tmp_path):
    options = slurm.SlurmOptions(partition="gpu", cpus_per_cell=2.6, gpus_per_cell=1, jobs=4)
    executor = slurm.make_executor(tmp_path, options, 10.4)
    assert executor.cluster == "slurm" and executor.folder == str(tmp_path)
    assert executor.parameters == {
        "timeout_min": 10,
        "gpus_per_node": 1,
        "cpus_per_task": 3,
        "tasks_per_node": 1,
        "nodes": 1,
        "name": "suite-cell",
        "slurm_partition": "gpu",
        "slurm_array_parallelism": 4,
    }
    local = slurm.make_executor(tmp_path, slurm.SlurmOptions(cluster="local", partition="gpu", jobs=4), 0.1)
    assert local.parameters["timeout_min"] == 1 and "slurm_partition" not in local.parameters


def test_a_local_cluster_executor_is_made_by_submitit(tmp_path):
    executor = slurm.make_executor(tmp_path, slurm.SlurmOptions(cluster="local"), 5)
    assert type(executor).__name__ == "AutoExecutor" and executor.cluster == "local"


class Sink:
    def __init__(self, run_dir):
        self.run_dir, self.put_calls = run_dir, []

    def put(self, records, label=None):
        self.put_calls.append((records, label))


def test_the_driver_submits_at_most_jobs_at_a_time_and_writes_every_cell(fake_submitit, cells, tmp_path):
    sink = Sink(tmp_path)
    dispatch = Dispatch(device="cpu", context=RunContext(run_id="r", hostname="driver"), timeout_s=120)
    slurm.run(cells, dispatch, sink, slurm.SlurmOptions(cluster="local", jobs=1))
    (executor,) = fake_submitit
    assert executor.folder == str(tmp_path / "slurm")
    assert executor.parameters["timeout_min"] == 12  # the cell timeout plus 10 minutes
    assert executor.batches == [["mingru"], ["gru"]]  # local cluster: --jobs 1 in flight
    (ok, ok_label), (lost, lost_label) = sink.put_calls
    assert ok == [{"cell_key": cells[0].key, "hostname": "node1", "status": "ok"}]
    assert ok_label == f"{cells[0].label()} on node1 (job 1_0)"
    (record,) = lost
    assert record["status"] == "error" and record["cell_key"] == cells[1].key
    assert record["error"].startswith("job 2_0 ended without a result: RuntimeError: Job was cancelled")
    assert "\n" not in record["error"]


def test_on_slurm_every_cell_is_submitted_in_one_array(fake_submitit, cells, tmp_path):
    sink = Sink(tmp_path)
    slurm.run(cells, Dispatch(device="cpu"), sink, slurm.SlurmOptions(folder=str(tmp_path / "f")))
    assert fake_submitit[0].batches == [["mingru", "gru"]]
    assert fake_submitit[0].folder == str(tmp_path / "f")
    assert len(sink.put_calls) == 2
    job = FakeJob(remote.run_on_worker, cells[0], Dispatch(device="cpu"), "9")
    assert slurm.collect(job, cells[0], Dispatch(device="cpu"), 0.0)[0]["hostname"] == "node1"
