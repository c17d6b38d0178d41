"""Models that fail in every way a cell can fail; registered only by the tests
(``--plugin tests/suite/executors/crashy_plugin.py``). The kind of failure is the backend name;
``fine`` comes first, so the contract check (``suite.measure.contract``, which builds a
bare family's first backend) passes the family and each cell fails as its backend says.

``kill-worker`` kills the process that started the cell's forkserver: a Ray worker
or a Slurm job's process. Under the local executor that process is the driver:
use it only with ``--executor ray`` or ``slurm``."""

import os
import signal
import time

import torch

from suite import register_model


class Crashy(torch.nn.Module):
    def __init__(self, d_model: int, how: str):
        super().__init__()
        self.how = how
        self.backend = how
        self.proj = torch.nn.Linear(d_model, d_model)

    def forward(self, x, state=None, return_state=False):
        if self.how == "raise":
            raise RuntimeError("this mixer always fails")
        if self.how == "exit":
            os._exit(139)
        if self.how == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if self.how == "kill-worker":
            with open(f"/proc/{os.getppid()}/stat") as stat:  # the forkserver's parent
                os.kill(int(stat.read().rsplit(")", 1)[1].split()[1]), signal.SIGKILL)
            os._exit(1)
        if self.how == "hang":
            time.sleep(600)
        if self.how == "allocate":
            torch.ones(2**31, dtype=torch.float32)  # 8 GiB: past any test's --mem-limit
        if self.how == "nan":
            return self.proj(x) * float("nan")
        out = self.proj(x)
        return (out, state) if return_state else out

    def init_state(self, batch, device=None, dtype=None):
        return None

    def step(self, x, state):
        return self.proj(x), state

    def state_elements(self, seq_len):
        return 1


register_model(
    "crashy",
    lambda d_model, backend, layer_index: Crashy(d_model, backend),
    backends=("fine", "raise", "exit", "segfault", "hang", "allocate", "nan", "kill-worker"),
)
