import pytest
import torch

from suite.naming import UnknownName
from suite.registry import BackendUnavailable, build_model, get_task, parse_spec, register_model


def test_typo_in_family_suggests_the_name():
    with pytest.raises(UnknownName, match="did you mean 'mingru'"):
        parse_spec("mingur")


def test_typo_in_backend_suggests_the_name():
    with pytest.raises(UnknownName, match="did you mean 'loop'"):
        parse_spec("gru:lop")


def test_typo_in_task_suggests_the_name():
    with pytest.raises(UnknownName, match="did you mean 'mqar'"):
        get_task("mqr")


def test_unknown_option_is_rejected_with_known_ones():
    with pytest.raises(UnknownName, match="expansion"):
        build_model("mingru", vocab_size=8, expanson=2)


def test_explicit_backend_that_cannot_run_is_unavailable_not_swapped():
    with pytest.raises(BackendUnavailable):
        build_model("transformer:flash_attn", vocab_size=8, device="cpu")


def test_auto_names_the_backend_that_runs():
    model = build_model("gru", vocab_size=8, d_model=8, n_layers=1)
    assert model.backend in ("native-cpu", "cudnn")


def test_register_model_adds_a_family():
    class Identity(torch.nn.Module):
        backend = "identity"

        def forward(self, x, state=None, return_state=False):
            return (x, state) if return_state else x

        def init_state(self, batch, device=None, dtype=None):
            return None

        def step(self, x, state):
            return x, state

        def state_elements(self, seq_len):
            return 1

    register_model("identity-test", lambda d_model, backend, layer_index: Identity())
    model = build_model("identity-test", vocab_size=5, d_model=4, n_layers=1)
    assert model(torch.zeros(1, 3, dtype=torch.long)).shape == (1, 3, 5)


def test_unknown_names_and_bad_runs_are_usage_errors():
    from suite.analysis.compare import CompareError
    from suite.errors import UsageError
    from suite.naming import did_you_mean
    from suite.records.store import StoreError

    error = did_you_mean("gate", "sped", ("status", "speed"))
    assert isinstance(error, UnknownName) and isinstance(error, UsageError) and isinstance(error, ValueError)
    assert str(error) == "unknown gate 'sped': did you mean 'speed'? known: speed, status"
    assert issubclass(StoreError, UsageError) and issubclass(CompareError, UsageError)
