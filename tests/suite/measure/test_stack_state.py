"""Decode state of a hybrid stack and of sliding-window attention, from perf cells at two lengths:
the hybrid's grows with T only through its attention layer; the sliding-window model's is flat past W."""

import pytest
import torch

from suite.measure.cell import _build, decode_budget, run_cell
from suite.plan.planning import build_plan
from suite.plan.presets import get_preset

HYBRID, WINDOWED, RECURRENT = "mingru*3+transformer:sdpa", "transformer:sdpa[window=8]*4", "mingru*4"
LENGTHS = (16, 32)


def storage_bytes(state) -> int:
    if isinstance(state, torch.Tensor):
        return state.untyped_storage().nbytes()
    if isinstance(state, dict):
        return sum(storage_bytes(value) for value in state.values())
    if isinstance(state, (list, tuple)):
        return sum(storage_bytes(value) for value in state)
    return 0


@pytest.fixture(scope="module")
def perf_cells():
    cells = build_plan(get_preset("tiny"), models=[HYBRID, WINDOWED, RECURRENT], kinds=("perf",), perf_seq_lens=LENGTHS)
    return {(cell.model, cell.seq_len): cell for cell in cells}


@pytest.fixture(scope="module")
def records(perf_cells):
    found = {}
    for where, cell in perf_cells.items():
        [record] = run_cell(cell, "cpu")
        assert record["status"] == "ok", record["error"]
        found[where] = record
    return found


def decode_state_bytes(cell) -> int:
    """Bytes the state holds after prefilling ``seq_len`` tokens and decoding the cell's decode tokens."""
    model = _build(cell, "cpu", decode_budget(cell)).eval()
    tokens = torch.randint(0, cell.architecture.vocab_size, (1, cell.seq_len), generator=torch.Generator())
    with torch.no_grad():
        logits, state = model(tokens, return_state=True)
        for _ in range(cell.timing.decode_tokens):
            logits, state = model.step(logits[:, -1].argmax(-1) if logits.dim() == 3 else logits.argmax(-1), state)
    return storage_bytes(state)


def growth(records, model) -> int:
    return records[(model, LENGTHS[1])]["state_bytes"] - records[(model, LENGTHS[0])]["state_bytes"]


def test_the_hybrid_state_grows_only_through_its_attention_layer(records):
    d_model = records[(HYBRID, 16)]["model_config"]["d_model"]
    assert growth(records, RECURRENT) == 0
    assert growth(records, HYBRID) == 2 * (LENGTHS[1] - LENGTHS[0]) * d_model * 4  # one layer's K and V, fp32
    recurrent_part = records[(RECURRENT, 16)]["state_bytes"] * 3 // 4
    assert records[(HYBRID, 16)]["state_bytes"] == recurrent_part + 2 * 16 * d_model * 4


def test_the_sliding_window_state_is_flat_past_the_window(records):
    assert growth(records, WINDOWED) == 0
    d_model = records[(WINDOWED, 16)]["model_config"]["d_model"]
    assert records[(WINDOWED, 32)]["state_bytes"] == 4 * 2 * 8 * d_model * 4
    assert records[(WINDOWED, 32)]["backend"] == "sdpa-math+window8"


def test_the_decode_state_measured_after_prefill_and_decode(perf_cells):
    sizes = {where: decode_state_bytes(cell) for where, cell in perf_cells.items()}
    short, long = LENGTHS
    assert sizes[(WINDOWED, short)] == sizes[(WINDOWED, long)]
    assert sizes[(RECURRENT, short)] == sizes[(RECURRENT, long)]
    hybrid_growth = sizes[(HYBRID, long)] - sizes[(HYBRID, short)]
    d_model = perf_cells[(HYBRID, short)].architecture.d_model
    assert hybrid_growth == 2 * (long - short) * d_model * 4  # the KV cache, sized once for T + decode
