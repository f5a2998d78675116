"""Peak memory of analysing a GGUF file of more than 1 GB (one tensor dequantised at a time).

Issue 13: a generated GGUF file of at least 1 GB is analysed with peak RSS bounded by the
largest dequantised tensor. The file is written with the real ``gguf.GGUFWriter`` (streamed,
one tensor at a time) in a separate process: Q8_0 tensors quantised by ``gguf.quants.quantize``
and F16 tensors, llama.cpp names. The analysis runs in a fresh child process that reports
its ``ru_maxrss`` after importing and warming up htsr (the baseline) and after the analysis.

    python bench/bench_gguf.py                 # writes bench/results/gguf.json, deletes the file
    python bench/bench_gguf.py --keep --dir /tmp/htsr-gguf
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

#: (rows, cols): 32768 x 2048, so each ESD is 2048 eigenvalues (a few seconds per layer);
#: dequantised float32 = 256 MiB, Q8_0 on disk = 68 MiB, F16 on disk = 128 MiB.
SHAPE = (32768, 2048)

_WRITE = """
import sys, numpy as np, gguf
from gguf import GGMLQuantizationType as T, quants
path, n_q8, n_f16 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
shape = (32768, 2048)
rng = np.random.default_rng(0)
specs = [(f"blk.{i}.ffn_up.weight", T.Q8_0) for i in range(n_q8)]
specs += [(f"blk.{i}.ffn_down.weight", T.F16) for i in range(n_f16)]
w = gguf.GGUFWriter(path, "llama")
w.add_block_count(max(n_q8, n_f16))
for name, qtype in specs:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nbytes = shape[0] * shape[1] // block * size
    if qtype == T.F16:
        w.add_tensor_info(name, shape, np.dtype(np.float16), nbytes)
    else:
        byte_shape = quants.quant_shape_to_byte_shape(shape, qtype)
        w.add_tensor_info(name, byte_shape, np.dtype(np.uint8), nbytes, raw_dtype=qtype)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_ti_data_to_file()
for name, qtype in specs:
    x = rng.standard_normal(shape, dtype=np.float32)
    x[:, :64] *= 8  # a few strong directions, so the ESD is not pure noise
    w.write_tensor_data(quants.quantize(x, qtype))
    del x
w.close()
"""

_CHILD = """
import resource, sys, time
import numpy as np, htsr
htsr.analyze({"warm_up": np.random.default_rng(0).standard_normal((300, 200))})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
report = htsr.analyze(sys.argv[1])
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(report.analysed), elapsed, base, peak)
print(report.layers[["name", "quant_type", "N", "M", "alpha", "status"]].to_string())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/htsr-gguf-bench"))
    parser.add_argument("--q8", type=int, default=4, help="Q8_0 tensors (68 MiB each)")
    parser.add_argument("--f16", type=int, default=7, help="F16 tensors (128 MiB each)")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / "model.gguf"
    try:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _WRITE, str(path), str(args.q8), str(args.f16)], check=True
        )
        write_s = time.perf_counter() - start
        size = path.stat().st_size
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)], check=True, capture_output=True, text=True
        ).stdout
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    first, table = out.split("\n", 1)
    n, elapsed, base_kib, peak_kib = first.split()
    largest = SHAPE[0] * SHAPE[1] * 4  # the largest dequantised tensor, float32
    growth = (int(peak_kib) - int(base_kib)) * 1024
    result = {
        "file_bytes": size,
        "tensors": args.q8 + args.f16,
        "analysed": int(n),
        "write_seconds": round(write_s, 1),
        "analysis_seconds": round(float(elapsed), 1),
        "baseline_rss_mib": round(int(base_kib) / 1024, 1),
        "peak_rss_mib": round(int(peak_kib) / 1024, 1),
        "growth_mib": round(growth / 2**20, 1),
        "largest_dequantized_mib": largest / 2**20,
        "growth_over_largest": round(growth / largest, 2),
        "command": " ".join(["python", "bench/bench_gguf.py", *sys.argv[1:]]),
    }
    print(table)
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gguf.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
