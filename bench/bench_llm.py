"""Llama-shaped checkpoints: seconds per layer on 1 and 2 processes, peak RSS, resume time.

A generated bf16 checkpoint at real Llama shapes, sharded safetensors (one shard per decoder
layer, with a ``model.safetensors.index.json``) in a temporary directory that is deleted
after. Each configuration runs in a fresh child process, which reports its wall time and
peak RSS (its own ``ru_maxrss`` and its pool workers'):

- ``serial``: ``htsr.analyze(index)`` (BLAS pinned to one thread, as every run is);
- ``processes_2``: ``executor=2`` (spawned workers receiving (file, tensor name));
- ``cache_fill``: serial with ``cache=DIR``; ``resume``: the same run again, every layer read
  back from the cache (fits recomputed from the saved spectra);
- ``device_cpu`` and ``processes_2_device_cpu`` (``--device-cpu``): the torch eigensolver on
  the CPU (one torch thread per process, as every run is pinned), serial (with its own
  projection) and on 2 processes (the same rows as serial, bit for bit); ``device_cuda``
  (``--device cuda`` or ``cuda:N``): on a GPU, where torch sees one (same eigenvalues checked
  against the serial run's to 1e-9).

Presets: ``block`` is issue 14's Llama-shaped block (hidden 2048, MLP 5632, 2 decoder layers,
14 matrices); ``tiny`` (256 / 704) checks the script in seconds; ``7b`` is Llama-2-7B
(hidden 4096, MLP 11008; ``--layers`` decoder layers).
From the two matrix shapes of a preset the time per matrix is fitted as
``t = a N M^2 + b M^3`` (Gram product + eigensolver) and projected to whole Llama-2-7B and
-70B models on this machine. GPU figures are not measured here (no GPU in this session).

    python bench/bench_llm.py                # block preset -> bench/results/llm_block.json
    python bench/bench_llm.py --preset 7b --layers 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PRESETS = {
    "tiny": {"hidden": 256, "mlp": 704, "layers": 2},  # a smoke run of the script itself
    "block": {"hidden": 2048, "mlp": 5632, "layers": 2},
    "7b": {"hidden": 4096, "mlp": 11008, "layers": 1},
}

#: Whole models for the projection: (decoder layers, hidden, kv width, MLP width, vocabulary).
MODELS = {
    "llama-2-7b": (32, 4096, 4096, 11008, 32000),
    "llama-2-70b": (80, 8192, 1024, 28672, 32000),
}


def write_checkpoint(directory: Path, hidden: int, mlp: int, layers: int, seed: int = 0) -> Path:
    """One bf16 safetensors shard per decoder layer and the Hugging Face index."""
    import ml_dtypes
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    shapes = {
        "self_attn.q_proj": (hidden, hidden),
        "self_attn.k_proj": (hidden, hidden),
        "self_attn.v_proj": (hidden, hidden),
        "self_attn.o_proj": (hidden, hidden),
        "mlp.gate_proj": (mlp, hidden),
        "mlp.up_proj": (mlp, hidden),
        "mlp.down_proj": (hidden, mlp),
    }
    weight_map = {}
    for layer in range(layers):
        shard = f"model-{layer + 1:05d}-of-{layers:05d}.safetensors"
        tensors = {}
        for name, shape in shapes.items():
            w = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[1])
            full = f"model.layers.{layer}.{name}.weight"
            tensors[full] = w.astype(ml_dtypes.bfloat16)
            weight_map[full] = shard
        tensors[f"model.layers.{layer}.input_layernorm.weight"] = np.ones(
            hidden, ml_dtypes.bfloat16
        )
        save_file(tensors, directory / shard)
        del tensors
    index = directory / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


def child(config: str, index: Path, cache: Path) -> None:
    """Run one configuration in this (fresh) process and print its figures as JSON."""
    import htsr
    import htsr.analysis  # the caller's own imports (the package root is lazy) are not timed

    options: dict[str, object] = {}
    if config.startswith("processes_2"):
        options["executor"] = 2
    if config in ("cache_fill", "resume"):
        options["cache"] = cache
    if "device_" in config:
        options["device"] = config.partition("device_")[2].replace("_", ":")
    start = time.perf_counter()
    report = htsr.analyze(index, **options)
    seconds = time.perf_counter() - start
    ok = report.layers[report.layers.status == "ok"]
    # VmHWM is this process image's own peak (ru_maxrss would carry the parent's over exec)
    status = Path("/proc/self/status").read_text().split("\n")
    own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    # upper bound for the pool's workers: the largest waited-for child (ru_maxrss)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "matrices": len(ok),
                "peak_rss_mib": round(own, 1),
                "peak_rss_worker_mib": round(workers, 1),
                "lambda_max": ok["lambda_max"].tolist(),
                "alpha": ok["alpha"].tolist(),
            }
        )
    )


def run_child(config: str, index: Path, cache: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", config, str(index), str(cache)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def import_seconds(module: str, repeats: int = 3) -> float:
    """Best wall time of ``import <module>`` in a fresh interpreter: what a spawned worker
    pays before its first task (``htsr.compute``) against the whole analysis."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            for _ in range(repeats)]  # fmt: skip
    return min((float(r.stdout) for r in runs if r.returncode == 0), default=float("nan"))


def worker_module() -> str:
    """The module a pool worker imports when it starts (the initializer's import)."""
    import inspect

    from htsr import _execution

    source = inspect.getsource(_execution._warm_worker)
    return "htsr.compute" if "import htsr.compute" in source else "htsr.analysis"


def per_matrix_model(hidden: int, mlp: int) -> dict[str, float]:
    """Seconds of one bare float64 Gram + eigvalsh (one BLAS thread) at each shape."""
    import ml_dtypes
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(1)
    out = {}
    with threadpool_limits(limits=1):
        for n in (hidden, mlp):
            w = rng.standard_normal((n, hidden), dtype=np.float32).astype(ml_dtypes.bfloat16)
            start = time.perf_counter()
            a = w.astype(np.float64)
            np.linalg.eigvalsh(a.T @ a)
            out[f"{n}x{hidden}"] = time.perf_counter() - start
    return out


def project(floor: dict[str, float], ratio: float, hidden: int, mlp: int) -> dict[str, float]:
    """Hours for whole models: ``t = a N M^2 + b M^3`` fitted to the two floor timings, times
    the measured analysis/floor ratio, divided by the processes."""
    t_sq, t_mlp = floor[f"{hidden}x{hidden}"], floor[f"{mlp}x{hidden}"]
    m = float(hidden)
    a = (t_mlp - t_sq) / ((mlp - hidden) * m**2)
    b = (t_sq - a * m**3) / m**3

    def seconds(n: int, k: int) -> float:
        big, small = max(n, k), min(n, k)
        return ratio * (a * big * small**2 + b * small**3)

    hours = {}
    for name, (layers, h, kv, f, vocab) in MODELS.items():
        per_layer = 2 * seconds(h, h) + 2 * seconds(kv, h) + 3 * seconds(f, h)
        total = layers * per_layer + 2 * seconds(vocab, h)
        hours[f"{name}_1_process_h"] = round(total / 3600, 2)
    return hours


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="block")
    parser.add_argument("--layers", type=int, help="decoder layers (default: the preset's)")
    parser.add_argument("--device-cpu", action="store_true", help="also time device='cpu'")
    parser.add_argument("--device", help="also time this torch device, e.g. cuda or cuda:1")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--only-parallel",
        action="store_true",
        help="only serial and 2 processes, the pair taken back to back --repeats times",
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", nargs=3, metavar=("CONFIG", "INDEX", "CACHE"))
    args = parser.parse_args()
    load_at_start = round(os.getloadavg()[0], 2)
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    preset = dict(PRESETS[args.preset])
    if args.layers:
        preset["layers"] = args.layers
    hidden, mlp, layers = preset["hidden"], preset["mlp"], preset["layers"]
    tmp = Path(tempfile.mkdtemp(prefix="htsr-bench-llm-"))
    try:
        start = time.perf_counter()
        index = write_checkpoint(tmp, hidden, mlp, layers)
        write_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in tmp.glob("*.safetensors"))
        cache = tmp / "cache"
        configs = ["serial", "processes_2"]
        if not args.only_parallel:
            configs += ["cache_fill", "resume"]
        if args.device_cpu:
            configs += ["device_cpu", "processes_2_device_cpu"]
        if args.device:
            configs.append("device_" + args.device.replace(":", "_"))
        runs = {c: run_child(c, index, cache) for c in configs}
        pairs = [(runs["serial"]["seconds"], runs["processes_2"]["seconds"])]
        for _ in range(args.repeats - 1):  # more back-to-back pairs: the best of each
            pair = (run_child("serial", index, cache), run_child("processes_2", index, cache))
            pairs.append((pair[0]["seconds"], pair[1]["seconds"]))
            for name, run in zip(("serial", "processes_2"), pair, strict=True):
                if float(run["seconds"]) < float(runs[name]["seconds"]):  # type: ignore[arg-type]
                    runs[name] = run
        floor = per_matrix_model(hidden, mlp)
        imports = {m: round(import_seconds(m), 3) for m in ("htsr.compute", "htsr.analysis")}
        imports["worker_imports"] = worker_module()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    serial = runs["serial"]
    matrices = int(serial["matrices"])  # type: ignore[call-overload]
    for name, run in runs.items():
        assert run["matrices"] == matrices, name
        # the same rows, bit for bit, whatever runs them (per solver)
        same = runs["device_cpu"] if "device_cpu" in name else None if "device_" in name else serial
        if same is not None:
            assert run["lambda_max"] == same["lambda_max"], name
            assert run["alpha"] == same["alpha"], name
    floor_total = layers * (4 * floor[f"{hidden}x{hidden}"] + 3 * floor[f"{mlp}x{hidden}"])
    seconds = {name: round(float(run["seconds"]), 2) for name, run in runs.items()}  # type: ignore[arg-type]
    result = {
        "preset": args.preset,
        "hidden": hidden,
        "mlp": mlp,
        "decoder_layers": layers,
        "matrices": matrices,
        "checkpoint_gib": round(size / 2**30, 3),
        "write_s": round(write_s, 1),
        "seconds": seconds,
        "seconds_per_matrix": {k: round(v / matrices, 3) for k, v in seconds.items()},
        "speedup_2_processes": round(seconds["serial"] / seconds["processes_2"], 2),
        "pairs_serial_2_processes_s": [[round(float(a), 2), round(float(b), 2)] for a, b in pairs],  # type: ignore[arg-type]
        "import_s": imports,
        "peak_rss_mib": {n: r["peak_rss_mib"] for n, r in runs.items()},
        "peak_rss_worker_mib": runs["processes_2"]["peak_rss_worker_mib"],
        "load_average_1min_at_start": load_at_start,
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "floor_gram_eigvalsh_s": {k: round(v, 3) for k, v in floor.items()},
        "serial_vs_floor": round(seconds["serial"] / floor_total, 3),
        "projection_this_machine": project(floor, seconds["serial"] / floor_total, hidden, mlp),
        "gpu": (
            f"{seconds[g]} s with {g.removeprefix('device_')}"
            if (g := next((n for n in seconds if n.startswith("device_cuda")), None))
            else "not measured (no GPU in this session)"
        ),
        "note": "2-core machine; see the load averages (above ~1.5 the machine was shared)",
    }
    if "resume" in seconds:
        result["resume_vs_serial"] = round(seconds["resume"] / seconds["serial"], 3)
    if "device_cpu" in seconds:  # torch's CPU eigensolver, projected like the serial run
        result["device_cpu_vs_serial"] = round(seconds["serial"] / seconds["device_cpu"], 2)
        result["device_cpu_2_processes_vs_serial"] = round(
            seconds["serial"] / seconds["processes_2_device_cpu"], 2
        )
        result["projection_this_machine_device_cpu"] = project(
            floor, seconds["device_cpu"] / floor_total, hidden, mlp
        )
    for name in (n for n in runs if "device_" in n):
        lam = np.array(runs[name]["lambda_max"]) / np.array(serial["lambda_max"])
        result[f"{name}_max_rel_lambda_max"] = float(np.max(np.abs(lam - 1)))
        assert result[f"{name}_max_rel_lambda_max"] < 1e-9, name
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"llm_{args.preset}_parallel" if args.only_parallel else f"llm_{args.preset}"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
