"""Peak memory of analysing a large sharded safetensors checkpoint (one tensor at a time).

Issue 2: a generated sharded checkpoint of at least 2 GB whose largest tensor is 64 MB is
analysed with peak RSS under 700 MB. The checkpoint is written with the real ``safetensors``
library in the Hugging Face shard layout; the analysis runs in a fresh child process whose
peak RSS (``ru_maxrss``) is reported.

    python bench/bench_streaming.py --dir /tmp/htsr-2gb   # writes bench/results/streaming.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

#: 16384 x 1024 float32 = 64 MiB, the largest tensor; plus smaller ones.
SHAPES = [(16384, 1024), (4096, 1024), (1024, 1024), (1024,)]


def write_checkpoint(directory: Path, *, blocks: int, seed: int = 0) -> int:
    """Write ``blocks`` transformer-like blocks in shards of ~512 MB; return total bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    weight_map: dict[str, str] = {}
    shard: dict[str, np.ndarray] = {}
    shard_bytes = total = 0
    names: list[tuple[str, tuple[int, ...]]] = [
        (f"model.layers.{b}.{part}", shape)
        for b in range(blocks)
        for part, shape in zip(
            ("mlp.up.weight", "attn.qkv.weight", "attn.out.weight", "norm.weight"),
            SHAPES,
            strict=True,
        )
    ]
    files: list[list[str]] = [[]]
    for name, shape in names:
        shard[name] = rng.standard_normal(shape, dtype=np.float32)
        shard_bytes += shard[name].nbytes
        files[-1].append(name)
        if shard_bytes >= 512 * 2**20:
            total += _flush(directory, shard, len(files), weight_map)
            shard, shard_bytes = {}, 0
            files.append([])
    if shard:
        total += _flush(directory, shard, len(files), weight_map)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    return total


def _flush(directory: Path, shard: dict[str, np.ndarray], k: int, weight_map: dict) -> int:
    fname = f"model-{k:05d}.safetensors"
    save_file(shard, directory / fname)
    weight_map.update(dict.fromkeys(shard, fname))
    return sum(a.nbytes for a in shard.values())


_CHILD = """
import resource, sys, time, htsr
start = time.perf_counter()
report = htsr.analyze(sys.argv[1])
print(len(report.analysed), time.perf_counter() - start,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/htsr-streaming-2gb"))
    parser.add_argument("--blocks", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        t0 = time.perf_counter()
        total = write_checkpoint(args.dir, blocks=args.blocks)
        print(f"wrote {total / 2**30:.2f} GiB in {time.perf_counter() - t0:.1f} s")
        return
    if not (args.dir / "model.safetensors.index.json").exists():
        # Written by a separate process: Linux carries a parent's peak RSS into the children
        # it forks, so the measuring parent must never have held the checkpoint's tensors.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--write-only",
                "--dir",
                str(args.dir),
                "--blocks",
                str(args.blocks),
            ],
            check=True,
        )
    total = sum(p.stat().st_size for p in args.dir.glob("*.safetensors"))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(args.dir)], capture_output=True, text=True, check=True
    )
    analysed, seconds, maxrss_kb = proc.stdout.split()
    result = {
        "checkpoint_bytes": total,
        "checkpoint_gib": round(total / 2**30, 3),
        "largest_tensor_mib": 64,
        "layers_analysed": int(analysed),
        "analysis_s": round(float(seconds), 2),
        "peak_rss_mib": round(int(maxrss_kb) / 1024, 1),
        "parent_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "streaming.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
