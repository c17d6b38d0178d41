"""Device names, without torch: what the planner, the executors and the reports
may ask of a device string."""

from __future__ import annotations


def is_cuda(device) -> bool:
    """Whether ``device`` (``"cuda"``, ``"cuda:1"``, a ``torch.device``) names a CUDA device."""
    return str(device).startswith("cuda")
