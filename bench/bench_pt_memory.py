"""Peak memory of reading PyTorch checkpoints and bf16 safetensors, one tensor at a time.

Issue 10, item 8. Two cases, each analysed in a fresh child process whose peak RSS
(``ru_maxrss``: it counts every page touched, mapped file pages included) is reported next to
the RSS of a child that only imports htsr (the baseline) and the size of the largest tensor.

- ``pt``: a ~1 GiB state dict (16 float32 tensors of 64 MiB, written by ``torch.save`` in a
  separate process) analysed by htsr's zip reader, and, in the same run, by the old path
  (``torch.load(mmap=True, weights_only=True)``, every tensor then converted).
- ``bf16``: a 48 MiB bf16 safetensors matrix (4096 x 6144): the extra peak over the baseline,
  in multiples of the matrix size.

    python bench/bench_pt_memory.py --dir /tmp/htsr-pt     # writes bench/results/pt_memory.json
    python bench/bench_pt_memory.py --cases bf16 --out /tmp/bf16.json   # one case
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

MIB = 2**20
#: 16 tensors of 65536 x 256 float32 = 64 MiB each: 1 GiB; N * M^2 kept small for speed.
PT_SHAPE, PT_COUNT = (65536, 256), 16
BF16_SHAPE = (4096, 6144)


def _peak(code: str) -> tuple[float, float]:
    """Peak RSS of one child alone (RUSAGE_CHILDREN keeps the max over all children, so each
    measurement runs from its own intermediate process)."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        f"subprocess.run([sys.executable, '-c', {code!r}], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
        "time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def write_pt(path: Path) -> None:
    code = (
        "import torch; g = torch.Generator().manual_seed(0); "
        f"sd = {{f'layers.{{i}}.weight': torch.randn({PT_SHAPE}, generator=g) "
        f"for i in range({PT_COUNT})}}; torch.save(sd, {str(path)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def write_bf16(path: Path) -> None:
    code = (
        "import torch; from safetensors.torch import save_file; "
        f"w = torch.randn({BF16_SHAPE}, generator=torch.Generator().manual_seed(0)); "
        f"save_file({{'w': w.to(torch.bfloat16)}}, {str(path)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/htsr-pt"))
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results/pt_memory.json"
    )
    parser.add_argument("--cases", default="pt,bf16", help="comma-separated: pt, bf16")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    args.dir.mkdir(parents=True, exist_ok=True)
    pt, bf16 = args.dir / "state.pt", args.dir / "w_bf16.safetensors"
    if "pt" in cases and not pt.exists():
        write_pt(pt)
    if "bf16" in cases and not bf16.exists():
        write_bf16(bf16)
    quiet = "import warnings; warnings.simplefilter('ignore'); import htsr; "
    base, _ = _peak("import htsr.analysis, numpy, scipy, pandas")  # the package root is lazy
    result: dict[str, float] = {"baseline_import_htsr_mib": round(base, 1)}
    if "pt" in cases:
        tensor_mib = PT_SHAPE[0] * PT_SHAPE[1] * 4 / MIB
        base_torch, _ = _peak("import htsr.analysis, torch")
        ours, ours_s = _peak(quiet + f"htsr.analyze({str(pt)!r})")
        old = (
            "from htsr.sources.torch_sources import load_checkpoint; from pathlib import Path; "
            f"htsr.analyze(dict(load_checkpoint(Path({str(pt)!r}))))"
        )
        torch_mmap, torch_s = _peak(quiet + old)
        result |= {
            "pt_file_mib": round(pt.stat().st_size / MIB, 1),
            "pt_largest_tensor_mib": tensor_mib,
            "baseline_import_htsr_torch_mib": round(base_torch, 1),
            "pt_htsr_zip_reader_peak_mib": round(ours, 1),
            "pt_htsr_zip_reader_s": round(ours_s, 1),
            "pt_torch_mmap_peak_mib": round(torch_mmap, 1),
            "pt_torch_mmap_s": round(torch_s, 1),
            "pt_extra_over_baseline_in_tensors": round((ours - base) / tensor_mib, 2),
        }
    if "bf16" in cases:
        bf16_mib = BF16_SHAPE[0] * BF16_SHAPE[1] * 2 / MIB
        bf16_peak, bf16_s = _peak(quiet + f"htsr.analyze({str(bf16)!r})")
        result |= {
            "bf16_matrix_mib": bf16_mib,
            "bf16_peak_mib": round(bf16_peak, 1),
            "bf16_extra_over_baseline_in_matrices": round((bf16_peak - base) / bf16_mib, 2),
            "bf16_s": round(bf16_s, 1),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
