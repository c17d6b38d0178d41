import os
import re

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


def test_a_builtin_name_is_refused_unless_override(monkeypatch):
    from suite import registry
    from suite.errors import UsageError

    monkeypatch.setattr(registry, "MODEL_FAMILIES", {})
    monkeypatch.setattr(registry, "TASKS", {})
    with pytest.raises(UsageError, match="'mingru' is a built-in family; pass override=True to register_model"):
        register_model("mingru", lambda d_model, backend, layer_index: None)
    with pytest.raises(UsageError, match="'mqar' is a built-in task; pass override=True to register_task"):
        registry.register_task("mqar", lambda: None)
    assert registry.MODEL_FAMILIES == {} and registry.TASKS == {}
    assert build_model("gru", vocab_size=5, d_model=4, n_layers=1).family == "gru"  # built-ins still load lazily
    assert get_task("parity").vocab_size == 2 and registry.get_family("gru").origin is None
    replaced = register_model("mingru", lambda d_model, backend, layer_index: None, override=True)
    assert registry.get_family("mingru") is replaced and replaced.origin is None  # not from a --plugin file


def test_the_same_file_may_register_a_name_again_another_may_not(monkeypatch, tmp_path):
    from suite import registry
    from suite.errors import UsageError

    monkeypatch.setattr(registry, "MODEL_FAMILIES", {})
    make = lambda d_model, backend, layer_index: None  # noqa: E731
    register_model("twice", make)
    register_model("twice", make, description="again, from this file")
    assert registry.get_family("twice").description == "again, from this file"
    other = tmp_path / "other.py"
    code = compile("register_model('twice', make)", str(other), "exec")
    here = re.escape(os.path.realpath(__file__))
    with pytest.raises(UsageError, match=f"family 'twice' is already registered by {here}"):
        exec(code, {"register_model": register_model, "make": make})
    exec(
        compile("register_model('twice', make, override=True)", str(other), "exec"),
        {"register_model": register_model, "make": make},
    )
    assert registry.get_family("twice").registered_from == os.path.realpath(other)
