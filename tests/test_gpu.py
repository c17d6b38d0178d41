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
    from suite.plan.planning import build_plan
    from suite.plan.presets import get_preset
    from suite.measure.cell import run_cell
    from suite.plan.settings import RunContext

    cells = build_plan(get_preset("tiny"), models=["mingru"], kinds=("perf",), device="cuda:0")
    [record] = run_cell(cells[0], "cuda:0", RunContext(run_id="gpu-test"))
    assert record["status"] == "ok", record["error"]
    assert record["peak_mem_method"] == "cuda-max-allocated"
    assert record["train_peak_mem_bytes"] > 0


@pytest.mark.parametrize("megabytes", [64, 256])
def test_cuda_phase_peak_matches_a_known_allocation(megabytes):
    from suite.measure.memory import CUDA_METHOD, PhaseMemory

    size = megabytes * 2**20
    memory = PhaseMemory("cuda:0")
    assert memory.method == CUDA_METHOD
    with memory:
        block = torch.ones(size // 4, dtype=torch.float32, device="cuda:0")
        del block
    assert abs(memory.peak_bytes - size) <= 0.1 * size
    assert memory.peak_reserved_bytes >= 0


def test_isolated_cells_each_get_their_own_cuda_context(tmp_path):
    from suite.commands.cli import main
    from suite.records.store import read_records

    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "--preset",
                "tiny",
                "--models",
                "mingru,transformer",
                "--device",
                "cuda",
                "--no-report",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    records = read_records(out)
    assert records and all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    assert all(r["dtype"] == "bfloat16-autocast" for r in records)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("with_state", [False, True])
def test_triton_scan_default_blocks_match_float64_on_cuda(kind, with_state):
    """The compiled kernels at their default chunk/block sizes, several chunks and a partial
    channel block, against the linear-space scan in float64 (outputs and gradients)."""
    from models.scans import linear_space
    from models.scans.triton_scan import triton_gated_scan

    width = 2 if kind == "gru" else 3
    generator = torch.Generator().manual_seed(0)
    projection = 2 * torch.randn(3, 1000, width * 80, generator=generator)
    h0 = torch.rand(3, 80, generator=generator) if with_state else None
    weights = torch.randn(3, 1000, 80, generator=generator)
    results = []
    for run, device, dtype in (
        (triton_gated_scan, "cuda:0", torch.float32),
        (linear_space.gated_scan, "cpu", torch.float64),
    ):
        p = projection.to(device, dtype).requires_grad_()
        h = h0.to(device, dtype).requires_grad_() if with_state else None
        out = run(p, h, 80, kind)
        (out * weights.to(device, out.dtype)).sum().backward()
        results.append([t.detach().cpu().double() for t in (out, p.grad) + ((h.grad,) if with_state else ())])
    for got, expected in zip(*results):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_bench_speed_runs_on_cuda(tmp_path):
    from suite.commands.cli import main

    assert (
        main(
            [
                "bench",
                "speed",
                "--device",
                "cuda",
                "--seq-lens",
                "64",
                "--batch-size",
                "2",
                "--d-model",
                "32",
                "--repeats",
                "2",
                "--warmup",
                "1",
                "--models",
                "mingru:triton,mingru:linear,gru,gru:loop",
                "--out",
                str(tmp_path / "bench"),
                "--no-report",
            ]
        )
        == 0
    )
    from suite.records.store import read_records

    records = read_records(tmp_path / "bench")
    assert all(r["status"] == "ok" for r in records), [(r["model"], r["error"]) for r in records if r["error"]]
    assert {r["backend"] for r in records if r["model"] == "gru"} == {"cudnn"}


@pytest.mark.parametrize("spec", ["transformer:sdpa[window=8]*2", "mingru*3+transformer:sdpa[window=8]"])
def test_sliding_window_and_hybrid_parallel_equals_step_on_cuda(spec):
    from suite.stacks import build_model as build_any

    torch.manual_seed(0)
    model = build_any(spec, vocab_size=VOCAB, d_model=64, device="cuda:0").eval()
    tokens = torch.randint(0, VOCAB, (2, 48), device="cuda:0")
    with torch.no_grad():
        parallel = model(tokens)
        state, stepped = model.init_state(2), []
        for t in range(tokens.shape[1]):
            logits, state = model.step(tokens[:, t], state)
            stepped.append(logits)
    torch.testing.assert_close(parallel, torch.stack(stepped, 1), rtol=2e-3, atol=2e-3)
    assert model.backend.endswith("+window8") and "sdpa-" in model.backend  # the kernel that ran is named


def test_flash_attn_window_matches_the_sdpa_band_on_cuda():
    if get_family("transformer").probe("flash_attn", "cuda:0") is not None:
        pytest.skip("flash_attn does not run here")
    from suite.stacks import build_model as build_any

    models = []
    for backend in ("sdpa", "flash_attn"):
        torch.manual_seed(0)
        models.append(build_any(f"transformer:{backend}[window=16]*2", vocab_size=VOCAB, d_model=64, device="cuda:0"))
    tokens = torch.randint(0, VOCAB, (2, 96), device="cuda:0")
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        band, flash = (model(tokens).float() for model in models)
    torch.testing.assert_close(flash, band, rtol=3e-2, atol=3e-2)
    assert models[1].backend == "flash_attn+window16"


GRAPH_SPECS = ["mingru", "transformer:sdpa", "mingru*2+transformer:sdpa", "mingru+transformer:sdpa[window=8]"]


@pytest.mark.parametrize("spec", GRAPH_SPECS[:3])
def test_decode_captured_in_a_cuda_graph_replays_the_eager_tokens(spec):
    from suite.measure.decode_graph import capture_cuda_graph
    from suite.stacks import build_model as build_any

    torch.manual_seed(0)
    model = build_any(spec, vocab_size=VOCAB, d_model=64, n_layers=2, device="cuda:0").eval()
    prompt = torch.randint(0, VOCAB, (4, 24), device="cuda:0")
    with torch.no_grad():
        logits, prefilled = model(prompt, return_state=True)
        first = logits[:, -1].argmax(-1)

        def run():
            state, token, out = prefilled, first, []
            for _ in range(6):
                logits, state = model.step(token, state)
                token = logits.argmax(-1)
                out.append(token)
            return out

        expected = torch.stack(run(), 1)
        replay, outputs = capture_cuda_graph(run)
        for _ in range(2):
            for output in outputs:
                output.fill_(-1)
            replay()
            torch.cuda.synchronize()
            assert torch.equal(torch.stack(outputs, 1), expected)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16-autocast"])
@pytest.mark.parametrize("spec", GRAPH_SPECS)
def test_graph_decode_timing_captures_and_checks_on_cuda(spec, dtype):
    from suite.measure.decode_graph import graph_decode_timing
    from suite.stacks import build_model as build_any

    torch.manual_seed(0)
    model = build_any(spec, vocab_size=VOCAB, d_model=64, n_layers=2, device="cuda:0").eval()
    prompt = torch.randint(0, VOCAB, (4, 24), device="cuda:0")
    graph = graph_decode_timing(model, prompt, 8, "cuda:0", dtype, {"min_repeats": 3, "min_time_s": 0.0})
    assert graph.reason is None and graph.timing.repeats >= 3 and graph.timing.median_ms > 0


def test_a_step_that_syncs_falls_back_and_leaves_the_device_usable():
    from suite.measure.decode_graph import graph_decode_timing

    torch.manual_seed(0)
    model = build_model("mingru", vocab_size=VOCAB, d_model=32, n_layers=1, device="cuda:0").eval()
    step = model.step

    def syncing_step(tokens, state):
        if tokens.sum().item() < 0:  # a host sync: not allowed while capturing
            raise AssertionError("never")
        return step(tokens, state)

    model.step = syncing_step
    prompt = torch.randint(0, VOCAB, (2, 16), device="cuda:0")
    repeats = {"min_repeats": 2, "min_time_s": 0.0}
    failed = graph_decode_timing(model, prompt, 4, "cuda:0", "float32", repeats)
    assert failed.timing is None and failed.reason.startswith("capture failed:"), failed.reason
    assert float((torch.ones(4, device="cuda:0") * 2).sum()) == 8.0  # the device still works
    model.step = step
    assert graph_decode_timing(model, prompt, 4, "cuda:0", "float32", repeats).reason is None


def test_perf_records_on_cuda_head_with_the_graph_decode():
    from suite.measure.cell import run_cell
    from suite.plan.planning import build_plan
    from suite.plan.presets import get_preset
    from suite.plan.settings import RunContext

    cells = build_plan(get_preset("tiny"), models=GRAPH_SPECS[:3], kinds=("perf",), device="cuda:0")
    assert len(cells) == 3
    for cell in cells:
        [record] = run_cell(cell, "cuda:0", RunContext(run_id="gpu-test"))
        assert record["status"] == "ok", record["error"]
        assert record["decode_method"] == "cuda_graph", record["decode_graph_reason"]
        assert record["decode_graph_reason"] is None
        assert record["decode_ms_per_token"] == record["decode_ms_per_token_graph"] > 0
        assert record["decode_ms_per_token_batch1"] == record["decode_ms_per_token_batch1_graph"] > 0
        assert record["decode_ms_per_token_eager"] > 0 and record["decode_ms_per_token_batch1_eager"] > 0
