"""The backbone's dropout: absent at 0 (the same weights and outputs as before the option), active only
in training mode, the same for every family and for stacks, and refused outside [0, 1)."""

import pytest
import torch

from suite.stacks import build_model


def models(spec, dropout):
    torch.manual_seed(0)
    return build_model(spec, vocab_size=16, d_model=16, n_layers=2, mlp_mult=2, dropout=dropout)


@pytest.mark.parametrize("spec", ["mingru", "gru", "transformer", "mingru+transformer"])
def test_dropout_acts_in_training_only_and_leaves_the_weights_alone(spec):
    plain, dropped = models(spec, 0.0), models(spec, 0.5)
    assert plain.state_dict().keys() == dropped.state_dict().keys()
    for name, value in plain.state_dict().items():
        assert torch.equal(value, dropped.state_dict()[name])  # the same initial weights
    tokens = torch.randint(0, 16, (2, 12))
    plain.eval(), dropped.eval()
    assert torch.allclose(plain(tokens), dropped(tokens))  # evaluation: no dropout
    dropped.train()
    assert not torch.allclose(plain(tokens), dropped(tokens))
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())


def test_a_rate_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        models("mingru", 1.0)
