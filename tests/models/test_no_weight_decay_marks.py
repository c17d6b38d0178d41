"""Parameters marked ``_no_weight_decay`` (the optimizer leaves them undecayed), as ``mamba_ssm``
marks them: Mamba-1's ``A_log`` and ``D``; Mamba-2's ``A_log``, ``D`` and ``dt_bias``; nothing else."""

import pytest

import models.mamba
import models.mamba2

MARKED = {"mamba": {"A_log", "D"}, "mamba2": {"A_log", "D", "dt_bias"}}
MODULES = {"mamba": models.mamba, "mamba2": models.mamba2}


def marked_names(mixer):
    return {name.rsplit(".", 1)[-1] for name, p in mixer.named_parameters() if getattr(p, "_no_weight_decay", False)}


@pytest.mark.parametrize("family", sorted(MODULES))
def test_reference_marks_what_mamba_ssm_marks(family):
    mixer = MODULES[family].make_mixer(16, "reference").double()  # moving the module keeps the marks
    assert marked_names(mixer) == MARKED[family]


@pytest.mark.gpu
@pytest.mark.parametrize("family", sorted(MODULES))
def test_mamba_ssm_package_marks_the_same(family):
    if MODULES[family].probe("mamba_ssm", "cuda"):
        pytest.skip(MODULES[family].probe("mamba_ssm", "cuda"))
    mixer = MODULES[family].make_mixer(64, "mamba_ssm").to("cuda")
    assert marked_names(mixer) == MARKED[family]
