"""ESDs pooled over seeds, as the paper pools MiniAlexNet's FC1 over its 10 runs (JMLR 2021,
Section 7), and the fits of the pooled ESD per setting."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from htsr.experiments.config import SweepConfig, run_file


def pooled_esd(esd_dir: Path, config: SweepConfig, value: float, layer: str) -> np.ndarray:
    """The final eigenvalues of ``layer`` at one setting, pooled over the seeds, sorted;
    empty when no run has them."""
    parts = []
    for seed in config.seeds:
        path = Path(esd_dir) / f"{run_file(config.run_id(value, seed))}.npz"
        if not path.is_file():
            continue
        with np.load(path) as esds:
            if layer in esds:
                parts.append(np.asarray(esds[layer], dtype=np.float64))
    return np.sort(np.concatenate(parts)) if parts else np.empty(0)


def pooled_fits(
    esd_dir: Path,
    config: SweepConfig,
    layer: str,
    shape: tuple[int, int],
    *,
    stored_dtype: str = "float32",
) -> pd.DataFrame:
    """Per setting: the power-law alpha, the MP spike fraction and soft rank, and the phase of
    the ESD of ``layer`` pooled over seeds (``S`` seeds pool like ``S`` slices of one
    ``N x M`` matrix, ``shape = (N, M)``), and Spearman's rho of the pooled alpha with the
    setting in ``df.attrs["rho_alpha"]`` (NaN with fewer than 3 finite alphas).

    Parameters
    ----------
    esd_dir : path
        The sweep's ``esd/`` folder.
    config : SweepConfig
        The sweep (its settings and seeds).
    layer : str
        Layer name.
    shape : (int, int)
        ``(N, M)`` of one matrix, ``N >= M``.
    stored_dtype : str, default "float32"
        dtype the weights were stored in (the phase rules' round-off cut-off).

    Notes
    -----
    :func:`htsr.fit.powerlaw.fit_power_law` and :func:`htsr.fit.mp.fit_mp` with their default
    options (the pipeline's, :data:`htsr.fit.powerlaw.PIPELINE_FIT`), on the positive pooled
    eigenvalues. The phase is :func:`htsr.phases.classify_layer` of the pooled spectrum
    (``S`` slices); the entries' tail exponent is not pooled (``element_mu`` NaN), so the rule
    that reads it (rule 4 of the phase table) does not apply to a pooled ESD.
    """
    from scipy.stats import spearmanr

    from htsr.fit.mp import fit_mp
    from htsr.fit.powerlaw import fit_power_law
    from htsr.phases import classify_layer
    from htsr.spectrum import Spectrum

    rows = []
    for value in config.values:
        evals = pooled_esd(esd_dir, config, value, layer)
        evals = evals[evals > 0]
        row: dict[str, float | str | None] = {
            config.kind: value,
            "n": int(evals.size),
            "alpha": math.nan,
        }
        row |= {"spike_fraction": math.nan, "softrank": math.nan, "phase": None}
        if evals.size >= 10:
            pl = fit_power_law(evals)
            mp = fit_mp(evals, shape[0], shape[1])
            row["alpha"] = float(pl.alpha) if bool(pl.ok) else math.nan
            row["spike_fraction"] = float(mp.spike_fraction) if bool(mp.ok) else math.nan
            row["softrank"] = float(mp.softrank) if bool(mp.ok) else math.nan
            slices = max(1, round(evals.size / shape[1]))
            spectrum = Spectrum(evals, shape[0], shape[1], slices, stored_dtype=stored_dtype)
            phase = classify_layer(spectrum, mp=mp, power_law=pl).phase
            row["phase"] = None if phase is None else str(phase)
        rows.append(row)
    frame = pd.DataFrame(rows)
    ok = frame["alpha"].notna()
    rho = math.nan
    if ok.sum() >= 3 and frame.loc[ok, "alpha"].nunique() > 1:
        rho = float(spearmanr(frame.loc[ok, config.kind], frame.loc[ok, "alpha"]).statistic)
    frame.attrs["rho_alpha"] = rho
    return frame


__all__ = ["pooled_esd", "pooled_fits"]
