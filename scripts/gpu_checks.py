"""The correctness checks of ``scripts/gpu-check`` that are not unit tests: each a subcommand that
prints what it compared and exits 1 on a mismatch. ``--dry-run`` shrinks every shape so the same
code runs on a CPU (Triton in its interpreter), which is how CI proves the script before a GPU
sees it.

    python3 scripts/gpu_checks.py triton-float64 [--dry-run]   Triton vs the float64 scan, B=64 T=4096 D=256
    python3 scripts/gpu_checks.py offsets64 [--dry-run]        Triton where B*T*W*H passes 2**31 (T=65536)
    python3 scripts/gpu_checks.py perf-claims RUN_DIR          one ok perf cell per model, kernel as claimed (and
                                                               the decode method shown)
    python3 scripts/gpu_checks.py backends [--device cuda]     every backend: runs here, or why not
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def device_for(dry_run: bool) -> str:
    import torch

    if dry_run:
        return "cpu"
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run with --dry-run on a CPU")
    return "cuda"


def scan_pair(kind: str, projection, h0, hidden: int):
    """(Triton h and gradients, float64 linear-scan h and gradients) for one projection."""
    import torch

    from models.scans.linear_space import gated_scan_projection
    from models.scans.triton_scan import triton_gated_scan

    upstream = torch.randn(
        projection.shape[0], projection.shape[1], hidden, generator=torch.Generator().manual_seed(1)
    ).to(projection.device)
    results = []
    for run, dtype in ((triton_gated_scan, projection.dtype), (gated_scan_projection, torch.float64)):
        x = projection.detach().to(dtype).requires_grad_()
        state = h0.detach().to(torch.float64 if dtype == torch.float64 else torch.float32).requires_grad_()
        h = run(x, state, hidden, kind)
        h.backward(upstream.to(h.dtype))
        results.append((h.detach().double(), x.grad.double(), state.grad.double()))
    return results


def relative_error(got, want) -> float:
    return float((got - want).norm() / want.norm().clamp_min(1e-30))


def triton_float64(args) -> int:
    """Triton (fp32 and bf16 projections) against the linear scan in float64 on the same rounded
    inputs: h, dL/dprojection and dL/dh0, relative Frobenius error. Bars: 1e-5 (fp32 inputs, fp32
    accumulation over T steps), 2e-2 for bf16 inputs' gradients (written in bf16)."""
    import torch

    device = device_for(args.dry_run)
    batch, seq_len, hidden = (2, 40, 8) if args.dry_run else (64, 4096, 256)
    bars = {torch.float32: 1e-4, torch.bfloat16: 2e-2}
    failed = False
    for kind, width in (("gru", 2), ("lstm", 3)):
        for dtype in (torch.float32, torch.bfloat16):
            generator = torch.Generator().manual_seed(0)
            projection = torch.randn(batch, seq_len, width * hidden, generator=generator).to(device, dtype)
            h0 = torch.randn(batch, hidden, generator=generator).to(device)
            (h, dx, dh0), (h_ref, dx_ref, dh0_ref) = scan_pair(kind, projection, h0, hidden)
            errors = {
                "h": relative_error(h, h_ref),
                "d_projection": relative_error(dx, dx_ref),
                "d_h0": relative_error(dh0, dh0_ref),
            }
            bar = bars[dtype]
            verdict = (
                "PASS"
                if max(errors.values()) <= bar and all(bool(torch.isfinite(t).all()) for t in (h, dx))
                else "FAIL"
            )
            failed |= verdict == "FAIL"
            print(
                f"  {verdict}  triton {kind} {str(dtype).removeprefix('torch.')} B={batch} T={seq_len} D={hidden} "
                f"vs float64: " + ", ".join(f"{name} {value:.1e}" for name, value in errors.items()) + f" (bar {bar:g})"
            )
    return 1 if failed else 0


def offsets64(args) -> int:
    """A projection of more than 2**31 elements (T=65536): the kernels index with int64, so every
    position is written and equals the linear scan's (float32, same inputs) at the far end too."""
    import torch

    from models.scans.linear_space import gated_scan_projection
    from models.scans.triton_scan import triton_gated_scan

    device = device_for(args.dry_run)
    batch, seq_len, hidden = (1, 130, 8) if args.dry_run else (3, 65536, 4096)
    elements = batch * seq_len * 3 * hidden
    generator = torch.Generator(device=device).manual_seed(0)
    projection = torch.randn(batch, seq_len, 3 * hidden, device=device, dtype=torch.bfloat16, generator=generator)
    with torch.no_grad():
        h = triton_gated_scan(projection, None, hidden, "lstm")
        tail = slice(seq_len - 64, seq_len)
        want = gated_scan_projection(projection[:, :].float(), None, hidden, "lstm")
    error = relative_error(h[:, tail].double(), want[:, tail].double())
    whole = relative_error(h.double(), want.double())
    ok = error <= 1e-4 and whole <= 1e-4 and bool(torch.isfinite(h).all())
    print(
        f"  {'PASS' if ok else 'FAIL'}  triton lstm bf16 B={batch} T={seq_len} D={hidden}: {elements:,} projection "
        f"elements ({'past' if elements > 2**31 else 'below'} 2**31), last 64 steps {error:.1e}, all {whole:.1e} "
        "vs linear (bar 1e-4)"
    )
    return 0 if ok else 1


# What a perf cell's backend must say it ran, per family and device type: the label is taken after
# the run, from the call that ran (see models/*.py).
CLAIMS = {
    "cuda": {
        "gru": ("cudnn",),
        "lstm": ("cudnn",),
        "transformer": ("sdpa-flash", "sdpa-efficient", "flash_attn"),
        "mamba": ("reference-torch", "mamba_ssm"),
        "mamba2": ("reference-torch", "mamba_ssm"),
    },
    "cpu": {
        "gru": ("native-cpu",),
        "lstm": ("native-cpu",),
        "transformer": ("sdpa-",),
        "mamba": ("reference-torch",),
        "mamba2": ("reference-torch",),
    },
}


def _ms(value) -> str:
    return f"{value:>12.4f}" if isinstance(value, (int, float)) else f"{'-':>12}"


def perf_claims(args) -> int:
    """Every family of CLAIMS has one ok perf record whose backend starts with what that device
    runs; prints the table (model, backend, dtype, train step median and IQR, noisy, the decode
    method with the eager and graph medians) and, on CUDA, why a cell's decode was not a graph."""
    records = [json.loads(line) for line in (Path(args.run_dir) / "records.jsonl").read_text().splitlines() if line]
    from suite.devices import is_cuda

    device = "cuda" if any(is_cuda(r.get("device")) for r in records) else "cpu"
    from models.probe import import_reason

    claims_here = dict(CLAIMS[device])
    if device == "cuda" and import_reason("mamba_ssm") is None:
        # the package imports (a carried wheel, say): its kernels must be what ran, not the reference
        claims_here.update(mamba=("mamba_ssm-cuda",), mamba2=("mamba_ssm-triton",))
    failed = False
    print(
        f"  {'model':<12} {'backend':<22} {'dtype':<18} {'status':<7} {'step ms':>9} {'IQR ms':>8} {'noisy':<6} "
        f"{'decode':<10} {'eager ms/tok':>12} {'graph ms/tok':>12}"
    )
    for family, claims in claims_here.items():
        mine = [r for r in records if r["family"] == family and r["kind"] == "perf"]
        for r in mine:
            print(
                f"  {r['model']:<12} {str(r['backend']):<22} {str(r['dtype']):<18} {r['status']:<7} "
                f"{r['train_step_ms'] or 0:>9.3f} {r['iqr_ms'] or 0:>8.3f} {str(r['timing_noisy']):<6} "
                f"{str(r.get('decode_method') or '-'):<10} {_ms(r.get('decode_ms_per_token_eager'))} "
                f"{_ms(r.get('decode_ms_per_token_graph'))}"
            )
            if device == "cuda" and r["status"] == "ok" and r.get("decode_method") != "cuda_graph":
                print(f"  note  {r['model']}: decode timed eagerly: {r.get('decode_graph_reason')}")
        good = [r for r in mine if r["status"] == "ok" and str(r["backend"]).startswith(claims)]
        if not good:
            failed = True
            print(
                f"  FAIL  {family}: no ok perf record whose backend starts with {' or '.join(claims)}"
                + (f" ({mine[0]['status']}: {mine[0]['error']})" if mine else " (none ran)")
            )
    print(f"  {'FAIL' if failed else 'PASS'}  perf cells on {device}: {', '.join(claims_here)}")
    return 1 if failed else 0


def backends(args) -> int:
    """Every registered backend on ``--device``: runs here, or the probe's reason (as
    ``suite list`` gives it), then the kernels behind the ones that run. On CUDA, a carried
    mamba-ssm wheel (``$CARRIED_WHEELS``) whose backends do not run is a failure: the wheel was
    carried to run them."""
    from models.probe import import_reason
    from suite.registry import backend_reasons

    real, fallen = [], []
    print(f"  {'backend':<26} {'runs':<5} why not")
    for name, reasons in backend_reasons(args.device).items():
        for backend, reason in reasons.items():
            print(f"  {name + ':' + backend:<26} {'yes' if reason is None else 'no':<5} {reason or ''}")
            (real if reason is None else fallen).append(f"{name}:{backend}")
    conv = import_reason("causal_conv1d")
    print(f"  causal_conv1d: {'imports (mamba_ssm fuses the conv)' if conv is None else conv}")
    print(f"  runs here: {', '.join(real)}")
    print(f"  does not run here: {', '.join(fallen) or 'none'}")
    carried = os.environ.get("CARRIED_WHEELS", "")
    missing = [spec for spec in ("mamba:mamba_ssm", "mamba2:mamba_ssm") if spec in fallen]
    if "mamba_ssm" in carried and args.device.startswith("cuda") and missing:
        print(f"  FAIL  mamba_ssm was carried ({carried}) but {', '.join(missing)} does not run")
        return 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, function in (("triton-float64", triton_float64), ("offsets64", offsets64)):
        sub = commands.add_parser(name)
        sub.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU (Triton interpreted)")
        sub.set_defaults(function=function)
    listing = commands.add_parser("backends")
    listing.add_argument("--device", default="cuda")
    listing.set_defaults(function=backends)
    claims = commands.add_parser("perf-claims")
    claims.add_argument("run_dir")
    claims.set_defaults(function=perf_claims)
    args = parser.parse_args(argv)
    if getattr(args, "dry_run", False):
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported
    return args.function(args)


if __name__ == "__main__":
    sys.exit(main())
