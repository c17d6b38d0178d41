"""Compile every Triton kernel of the min-RNN scan for an H100 (sm_90) ahead of time, without
a GPU: Triton's front end, its MLIR passes and ptxas all run on the CPU. Run as a script (with
``TRITON_INTERPRET`` unset, so the kernels are real JIT functions); prints one line per kernel."""

import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from models.scans import triton_scan


def signature(fn, constants: dict) -> dict:
    types = {}
    for name in fn.arg_names:
        if name in constants:
            types[name] = "constexpr"
        elif name == "proj_ptr":
            types[name] = "*bf16"
        elif name.endswith("_ptr"):
            types[name] = "*fp32"
        else:
            types[name] = "i32"
    return types


def main() -> int:
    target = GPUTarget("cuda", 90, 32)
    block, chunk = triton_scan.BLOCK_H, triton_scan.CHUNK
    for kind, width in ((triton_scan.GRU, 2), (triton_scan.LSTM, 3)):
        for with_state in (False, True):
            scan = dict(KIND=kind, WIDTH=width, CHUNK=chunk, BLOCK_H=block)
            for fn, constants in (
                (triton_scan._chunk_summary, scan),
                (triton_scan._carry, dict(HAS_H0=with_state, REVERSE=not with_state, BLOCK_H=block)),
                (triton_scan._chunk_forward, scan),
                (triton_scan._chunk_summary_reverse, scan),
                (triton_scan._chunk_backward, dict(HAS_H0=with_state, **scan)),
            ):
                source = ASTSource(
                    fn=fn,
                    signature=signature(fn, constants),
                    constexprs={(fn.arg_names.index(k),): v for k, v in constants.items()},
                )
                compiled = triton.compile(source, target=target, options={"num_warps": max(1, block // 32)})
                assert compiled.asm.get("cubin"), f"{fn.__name__}: no cubin"
                print(f"{fn.__name__} kind={kind} h0={with_state}: {len(compiled.asm['cubin'])} bytes of sm_90 code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
