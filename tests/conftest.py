import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _triton_interpreter_without_cuda() -> None:
    """Without a CUDA device the Triton kernels run in Triton's CPU interpreter, which
    is chosen when a kernel is defined: set the switch before anything imports them."""
    import torch

    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")


_triton_interpreter_without_cuda()


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA device (run by scripts/gpu-check)")
    config.addinivalue_line("markers", "browser: opens a report in headless Chromium (deselect: -m 'not browser')")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; scripts/gpu-check runs these on a GPU machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _threads():
    import torch

    torch.set_num_threads(int(os.environ.get("SUITE_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _sigint_reaches_children():
    """Each test starts with Python's own Ctrl-C handler, so the ``suite run`` a test starts and
    interrupts inherits a default SIGINT: a code path that leaves SIGINT ignored in this process
    (a child's set-up run in-process, say) would otherwise be inherited by every later child, which
    then ignores the interrupt the Ctrl-C tests send it and finishes with 0."""
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
