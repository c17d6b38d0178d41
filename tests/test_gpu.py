"""GPU paths, run by scripts/gpu-check on a CUDA machine (skipped elsewhere)."""
import pytest
import torch

from suite.registry import build_model, get_family, builtin_family_names

pytestmark = pytest.mark.gpu
VOCAB = 13


def cuda_specs():
    specs = []
    for name in builtin_family_names():
        family = get_family(name)
        for backend in family.backends:
            if family.probe(backend, "cuda:0") is None:
                specs.append(f"{name}:{backend}")
    return specs


@pytest.mark.parametrize("spec", cuda_specs() if torch.cuda.is_available() else [])
def test_parallel_equals_step_on_cuda(spec):
    if spec.endswith(":flash_attn"):
        pytest.skip("flash_attn takes 16-bit inputs only; covered by the bf16 autocast test")
    torch.manual_seed(0)
    model = build_model(spec, vocab_size=VOCAB, d_model=64, n_layers=2, device="cuda:0").eval()
    tokens = torch.randint(0, VOCAB, (2, 48), device="cuda:0")
    with torch.no_grad():
        parallel = model(tokens)
        state = model.init_state(2)
        stepped = []
        for t in range(tokens.shape[1]):
            logits, state = model.step(tokens[:, t], state)
            stepped.append(logits)
    torch.testing.assert_close(parallel, torch.stack(stepped, 1), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("spec", cuda_specs() if torch.cuda.is_available() else [])
def test_bf16_autocast_training_step_is_finite(spec):
    torch.manual_seed(0)
    model = build_model(spec, vocab_size=VOCAB, d_model=64, n_layers=2, device="cuda:0")
    tokens = torch.randint(0, VOCAB, (4, 256), device="cuda:0")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(tokens)
    loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, VOCAB), tokens.reshape(-1))
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_cudnn_gru_matches_cpu_native():
    torch.manual_seed(0)
    cpu = build_model("gru:native", vocab_size=VOCAB, d_model=32, n_layers=1).double()
    gpu = build_model("gru:cudnn", vocab_size=VOCAB, d_model=32, n_layers=1, device="cuda:0").double()
    gpu.load_state_dict(cpu.state_dict())
    tokens = torch.randint(0, VOCAB, (2, 40))
    with torch.no_grad():
        torch.testing.assert_close(gpu(tokens.cuda()).cpu(), cpu(tokens), rtol=1e-6, atol=1e-6)


def test_perf_cell_measures_cuda_memory():
    from suite.plan import build_plan
    from suite.presets import get_preset
    from suite.cell import run_cell

    cells = build_plan(get_preset("tiny"), models=["mingru"], kinds=("perf",), device="cuda:0")
    record = run_cell(cells[0], "cuda:0", {"run_id": "gpu-test"})
    assert record["status"] == "ok", record["error"]
    assert record["peak_mem_method"] == "cuda-max-allocated"
    assert record["train_peak_mem_bytes"] > 0


@pytest.mark.parametrize("megabytes", [64, 256])
def test_cuda_phase_peak_matches_a_known_allocation(megabytes):
    from suite.measure import CUDA_METHOD, PhaseMemory

    size = megabytes * 2**20
    memory = PhaseMemory("cuda:0")
    assert memory.method == CUDA_METHOD
    with memory:
        block = torch.ones(size // 4, dtype=torch.float32, device="cuda:0")
        del block
    assert abs(memory.peak_bytes - size) <= 0.1 * size
    assert memory.peak_reserved_bytes >= 0


def test_isolated_cells_each_get_their_own_cuda_context(tmp_path):
    from suite.cli import main
    from suite.store import read_records

    out = tmp_path / "run"
    assert main(["run", "--preset", "tiny", "--models", "mingru,transformer", "--device", "cuda", "--no-report",
                 "--out", str(out)]) == 0
    records = read_records(out)
    assert records and all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    assert all(r["dtype"] == "bfloat16-autocast" for r in records)
