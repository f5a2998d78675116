"""``htsr rmt ...``: random-matrix reference commands (thin over :mod:`htsr.rmt`)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np


def parse_mu(spec: str) -> list[float]:
    """``"0.5:6:0.25"`` (start:stop:step, stop included) or ``"1,1.5,2"`` -> list of floats.

    Examples
    --------
    >>> parse_mu("1:2:0.5"), parse_mu("3,1")
    ([1.0, 1.5, 2.0], [3.0, 1.0])
    """
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            return [round(start + i * step, 10) for i in range(n)]
        return [float(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(
            "expected start:stop:step with step > 0 and stop >= start, or a comma list; "
            f"got {spec!r}",
            param_hint="--mu",
        ) from None


@click.group(name="rmt")
def rmt() -> None:
    """Random-matrix reference: ensembles, Marchenko-Pastur, alpha(mu) calibration."""


@rmt.command()
@click.option(
    "--N",
    "N",
    type=click.IntRange(min=2),
    default=2000,
    show_default=True,
    help="Rows of each Pareto matrix (the larger side).",
)
@click.option(
    "--M",
    "M",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Columns (the smaller side; number of eigenvalues).",
)
@click.option(
    "--mu",
    "mu_spec",
    default="0.5:6:0.25",
    show_default=True,
    help="Element tail exponents: start:stop:step (stop included) or a comma list.",
)
@click.option(
    "--reps", type=click.IntRange(min=1), default=5, show_default=True, help="Matrices per mu."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV of the table [default: calibration_N{N}_M{M}.csv]; the relations go "
    "next to it as .json.",
)
def calibrate(N: int, M: int, mu_spec: str, reps: int, seed: int, out: Path | None) -> None:
    """Fit alpha on N x M Pareto matrices over a grid of mu; print and save alpha(mu).

    Prints the table (mean, std and median alpha per mu) and the fitted relations: the
    finite-size versions of alpha = 1 + mu/2 (mu < 2) and alpha = a mu + b (2 < mu < 4).
    """
    from htsr.rmt.calibration import calibrate_alpha, write_table

    if N < M:
        raise click.BadParameter(f"N must be >= M; got N={N}, M={M}.", param_hint="--N")
    mus = parse_mu(mu_spec)
    if not mus or min(mus) <= 0:
        raise click.BadParameter(f"mu values must be > 0; got {mu_spec!r}", param_hint="--mu")
    cal = calibrate_alpha(N, M, mus, reps=reps, rng=seed)
    rows = cal.rows()
    click.echo(f"alpha of Pareto matrices, N={N}, M={M}, {reps} reps per mu, seed {seed}")
    click.echo(f"{'mu':>6} {'1+mu/2':>7} {'alpha':>7} {'std':>7} {'median':>7} {'ok':>4}")
    for r in rows:
        ref = f"{1 + r['mu'] / 2:7.3f}" if r["mu"] < 2 else f"{'':7}"
        click.echo(
            f"{r['mu']:6.2f} {ref} {r['alpha_mean']:7.3f} {r['alpha_std']:7.3f} "
            f"{r['alpha_median']:7.3f} {r['n_ok']:2d}/{r['reps']}"
        )
    relations = {}
    for name, rel, ref in (
        ("very_heavy", cal.very_heavy, "papers: alpha = 0.5 mu + 1"),
        ("moderate", cal.moderate, "papers: linear"),
    ):
        relations[name] = {
            "slope": rel.slope,
            "intercept": rel.intercept,
            "mu_lo": rel.mu_lo,
            "mu_hi": rel.mu_hi,
            "n_points": rel.n_points,
            "rmse": rel.rmse,
        }
        click.echo(
            f"{rel.mu_lo:g} < mu < {rel.mu_hi:g}: {rel.formula()}  "
            f"(rmse {rel.rmse:.3f}, {rel.n_points} points; {ref})"
        )
    out = out or Path(f"calibration_N{N}_M{M}.csv")
    write_table(rows, str(out))
    meta = {
        "N": N,
        "M": M,
        "reps": reps,
        "seed": seed,
        "mu": mus,
        "seconds": cal.seconds,
        "relations": relations,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    click.echo(f"saved {out} and {out.with_suffix('.json')} ({cal.seconds:.1f} s)")


__all__ = ["calibrate", "parse_mu", "rmt"]
