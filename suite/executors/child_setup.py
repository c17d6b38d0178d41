"""Imported once by the forkserver, before any child is forked from it: every
child inherits what is done here instead of paying for it per cell.

- cuBLAS is asked for deterministic workspaces (must precede CUDA start-up; the
  server never starts CUDA, each child starts its own).
- torch and the cell runner are imported (~2-3 s, once).
- :func:`suite.measure.timing.apply_numerics` (deterministic algorithms, TF32 off) —
  the first ``torch.use_deterministic_algorithms`` costs ~1.4 s, so it is paid
  here once; each cell then sets its own TF32 choice the same way.
- the server dies with the process that started it (``PR_SET_PDEATHSIG``, see
  :func:`suite.executors.isolated.die_with_parent`), and so does every child forked from it.
- everything alive now is frozen out of the garbage collector, so the full
  collections that ``suite.measure.timing`` makes per phase scan only what a cell creates.
"""

import gc
import importlib
import os

SERVER_PID = os.getpid()  # each cell's child is forked from this process and dies with it
if os.environ.get("SUITE_FORKSERVER_PARENT"):  # imported as the forkserver's preload: die with the driver
    importlib.import_module("suite.executors.isolated").die_with_parent(int(os.environ["SUITE_FORKSERVER_PARENT"]))

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
torch = importlib.import_module("torch")
importlib.import_module("suite.measure.cell")
importlib.import_module("suite.measure.timing").apply_numerics()
gc.collect()
gc.freeze()
