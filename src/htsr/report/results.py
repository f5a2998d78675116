"""The result of analysing one row of the table: its columns, spectrum, fits and phase.

Data only: this module imports the computing stages (spectrum, metrics, phases) and nothing
downstream, so :mod:`htsr.analysis` can produce these results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from htsr.metrics import LayerFits, fit_layer
from htsr.phases import PhaseResult, classify_layer
from htsr.spectrum import Spectrum

if TYPE_CHECKING:
    from htsr.fit.mp import MPFit
    from htsr.fit.powerlaw import PowerLawFit


@dataclass(frozen=True, slots=True)
class LayerResult:
    """Everything computed for one row of the table.

    Attributes
    ----------
    name : str
        Row name (the tensor name, plus ``[i]`` for an unpooled convolution slice).
    row : dict
        The row's columns.
    spectrum : Spectrum or None
        The ESD, when the layer was analysed.
    fits : LayerFits or None
        Norm metrics, power-law fit and alternatives, MP fit.
    rand_evals : numpy.ndarray or None
        ESD of the element-shuffled matrix, when ``randomize=True``.
    phase : PhaseResult or None
        Phase of training and universality class.
    """

    name: str
    row: dict[str, Any]
    spectrum: Spectrum | None = field(default=None, repr=False)
    fits: LayerFits | None = field(default=None, repr=False)
    rand_evals: np.ndarray | None = field(default=None, repr=False)
    phase: PhaseResult | None = field(default=None, repr=False)

    @property
    def power_law(self) -> PowerLawFit | None:
        """The power-law fit of the tail, when the layer was analysed."""
        return None if self.fits is None else self.fits.power_law

    @property
    def mp(self) -> MPFit | None:
        """The Marchenko-Pastur fit of the bulk, when the layer was analysed."""
        return None if self.fits is None else self.fits.mp

    @classmethod
    def from_spectrum(cls, name: str, spectrum: Spectrum, row: dict[str, Any]) -> LayerResult:
        """Refit a saved ESD (a reloaded report): the same fits and phase as the analysis,
        which are deterministic functions of the eigenvalues, ``N, M`` and the two measures
        of the weights the phase rules also read, saved in the row (``element_mu``,
        ``localization``; NaN when the row lacks them)."""
        fits = fit_layer(spectrum)
        phase = classify_layer(
            spectrum,
            mp=fits.mp,
            power_law=fits.power_law,
            element_mu=_saved_float(row, "element_mu"),
            localization=_saved_float(row, "localization"),
        )
        return cls(name, dict(row), spectrum, fits, None, phase)


def spectrum_from_row(evals: np.ndarray, row: dict[str, Any]) -> Spectrum:
    """A :class:`Spectrum` from saved eigenvalues and the row's ``N, M, num_slices, dtype``.

    Raises
    ------
    KeyError
        If the row lacks ``N`` or ``M`` (the message names the layer).
    """
    try:
        n, m = int(row["N"]), int(row["M"])
    except (KeyError, TypeError, ValueError) as e:
        raise KeyError(f"layer {row.get('name')!r}: the saved row has no N and M") from e
    slices = row.get("num_slices")
    num_slices = 1 if slices is None or _isnan(slices) else int(slices)
    stored = row.get("dtype")
    return Spectrum(
        np.sort(np.asarray(evals, dtype=np.float64)),
        n,
        m,
        num_slices,
        stored_dtype=str(stored) if isinstance(stored, str) else "float64",
    )


def _saved_float(row: dict[str, Any], key: str) -> float:
    """``row[key]`` as a float; NaN when absent or not a number."""
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError):
        return math.nan


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


__all__ = ["LayerResult", "spectrum_from_row"]
