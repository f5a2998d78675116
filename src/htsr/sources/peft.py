"""LoRA / PEFT adapter directories, read as the weight updates they apply.

A PEFT LoRA adapter (``save_pretrained`` of a ``peft`` model) is a directory holding
``adapter_config.json`` and ``adapter_model.safetensors`` (or ``adapter_model.bin``). For each
target module it stores ``base_model.model.<module>.lora_A.weight`` (``r x in``) and
``...lora_B.weight`` (``out x r``); the update it applies to ``<module>.weight`` is

.. math:: \\Delta W = s \\, B A, \\quad s = \\alpha / r \\ (\\text{LoRA}), \\quad
          s = \\alpha / \\sqrt{r} \\ (\\text{rsLoRA, } ``use_rslora``)

(Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022, eq. (3);
Kalajdzievski, "A Rank Stabilization Scaling Factor for Fine-Tuning with LoRA", 2023), with
``alpha`` = ``lora_alpha`` (or the ``alpha_pattern`` entry matching the module) and ``r`` the
rank read from the factors' shapes. ``fan_in_fan_out`` (GPT-2's ``Conv1D``, weights stored
``in x out``) transposes the update, as PEFT's ``get_delta_weight`` does. Embedding adapters
(``lora_embedding_A`` ``r x num_embeddings``, ``lora_embedding_B`` ``dim x r``) give
``(s B A)^T``. Convolution adapters (``lora_A`` a ``r x in x k...`` kernel, ``lora_B`` a 1x1
``out x r`` kernel) give ``s B A`` reshaped to the ``out x in x k...`` kernel.

Each update is yielded as a tensor named like the base module's weight
(``base_model.model.`` and ``.lora_A.weight`` stripped: ``model.layers.0.q_proj.weight``).
Dense and embedding updates are :class:`LowRankRef`: their factors are read, never the
product, and the analysis computes the spectrum exactly from the ``r x r`` core
(:func:`htsr.lowrank.low_rank_esd`). Other tensors of the adapter (``modules_to_save``,
biases) are yielded as they are, prefix stripped.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from htsr.errors import SourceError
from htsr.sources.base import TensorRef, naturally_sorted

#: File names PEFT writes, in order of preference.
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
_PREFIX = "base_model.model."
#: ``<module>.lora_A.weight``, ``<module>.lora_A.<adapter>.weight``, ``<module>.lora_embedding_A``.
_LORA_KEY = re.compile(
    r"^(?P<module>.+)\.lora_(?P<emb>embedding_)?(?P<side>[AB])(?:\.(?P<adapter>[^.]+))?"
    r"(?:\.weight)?$"
)


@dataclass(frozen=True, slots=True)
class LowRankRef(TensorRef):
    """A tensor ``left @ right`` known by its factors (a LoRA update).

    ``load()`` materialises the product (for ``randomize`` or merging); :meth:`factors`
    returns ``(left, right)`` in float64 with ``left @ right`` equal to the tensor as stored
    (``out x in``, or ``in x out`` with ``fan_in_fan_out``), the scaling folded into ``left``.

    Attributes
    ----------
    rank : int
        The adapter rank ``r`` (inner dimension of the factors).
    scaling : float
        ``lora_alpha / r``, or ``lora_alpha / sqrt(r)`` for rsLoRA.
    """

    rank: int = 0
    scaling: float = 1.0
    factor_loader: Any = field(default=None, repr=False, compare=False)

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(left, right)`` in float64 with ``left @ right`` the update."""
        left, right = self.factor_loader()
        return left, right


@dataclass(frozen=True, slots=True)
class AdapterConfig:
    """The parts of ``adapter_config.json`` that define the updates.

    Attributes
    ----------
    lora_alpha : float
        Default alpha.
    use_rslora : bool
        Scale by ``alpha / sqrt(r)`` instead of ``alpha / r``.
    fan_in_fan_out : bool
        The base weights are stored ``in x out``; the update is transposed.
    rank_pattern, alpha_pattern : dict
        Per-module rank / alpha, keys matched as PEFT does (``(.*\\.)?key$``).
    r : int
        Default rank (checked against the factors' shapes).
    """

    lora_alpha: float
    use_rslora: bool
    fan_in_fan_out: bool
    rank_pattern: dict[str, int]
    alpha_pattern: dict[str, float]
    r: int

    def alpha_for(self, module: str) -> float:
        """The alpha of one module (``alpha_pattern`` first, else ``lora_alpha``)."""
        key = _pattern_key(self.alpha_pattern, module)
        return float(self.alpha_pattern[key]) if key is not None else self.lora_alpha

    def rank_for(self, module: str) -> int:
        """The configured rank of one module (``rank_pattern`` first, else ``r``)."""
        key = _pattern_key(self.rank_pattern, module)
        return int(self.rank_pattern[key]) if key is not None else self.r

    def scaling(self, module: str, rank: int) -> float:
        """``alpha / r`` or, with rsLoRA, ``alpha / sqrt(r)``."""
        alpha = self.alpha_for(module)
        return alpha / math.sqrt(rank) if self.use_rslora else alpha / rank


def _pattern_key(patterns: dict[str, Any], module: str) -> str | None:
    """The first key of ``patterns`` matching ``module`` as PEFT's ``get_pattern_key`` does."""
    for key in patterns:
        if re.match(rf"(.*\.)?({key})$", module):
            return key
    return None


def is_adapter_directory(directory: Path) -> bool:
    """Whether a directory is a PEFT adapter (holds ``adapter_config.json``)."""
    return (directory / ADAPTER_CONFIG).is_file()


def read_adapter_config(directory: Path) -> AdapterConfig:
    """Parse ``adapter_config.json``.

    Raises
    ------
    SourceError
        If it is not JSON, not a LoRA adapter, or uses DoRA (whose update is not ``s B A``).
    """
    path = directory / ADAPTER_CONFIG
    try:
        raw = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SourceError(path, f"corrupt adapter config (not JSON: {e})") from e
    if not isinstance(raw, dict):
        raise SourceError(path, "corrupt adapter config (not a JSON object)")
    raw = dict[str, Any](raw)
    peft_type = str(raw.get("peft_type", "LORA")).upper()
    if peft_type != "LORA":
        raise SourceError(path, f"peft_type {peft_type!r} is not supported; htsr reads LORA")
    if raw.get("use_dora"):
        raise SourceError(
            path, "DoRA adapters (use_dora) are not supported: the update is not s B A"
        )
    try:
        return AdapterConfig(
            lora_alpha=float(raw.get("lora_alpha", raw.get("r", 8))),
            use_rslora=bool(raw.get("use_rslora", False)),
            fan_in_fan_out=bool(raw.get("fan_in_fan_out", False)),
            rank_pattern=dict(raw.get("rank_pattern") or {}),
            alpha_pattern=dict(raw.get("alpha_pattern") or {}),
            r=int(raw.get("r", 8)),
        )
    except (TypeError, ValueError) as e:
        raise SourceError(path, f"bad value in adapter config: {e}") from e


def _weight_refs(directory: Path) -> list[TensorRef]:
    from htsr.sources.safetensors_files import safetensors_refs

    for name in ADAPTER_WEIGHTS:
        path = directory / name
        if path.is_file():
            if name.endswith(".safetensors"):
                return safetensors_refs(path)
            from htsr.sources.torch_sources import checkpoint_refs

            return checkpoint_refs(path)
    raise SourceError(directory, f"adapter directory holds no {' or '.join(ADAPTER_WEIGHTS)}")


def _strip(name: str) -> str:
    return name[len(_PREFIX) :] if name.startswith(_PREFIX) else name


def _low_rank_factors(
    a_ref: TensorRef, b_ref: TensorRef, scaling: float, transpose: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(s B, A)``, or ``(A^T, s B^T)`` when the update is transposed, in float64."""
    a = np.array(a_ref.load(), dtype=np.float64)
    b = np.array(b_ref.load(), dtype=np.float64)
    if transpose:
        return a.T, scaling * b.T
    return scaling * b, a


def _product(a_ref: TensorRef, b_ref: TensorRef, scaling: float, transpose: bool) -> np.ndarray:
    left, right = _low_rank_factors(a_ref, b_ref, scaling, transpose)
    product: np.ndarray = left @ right
    return product


def _conv_product(a_ref: TensorRef, b_ref: TensorRef, scaling: float) -> np.ndarray:
    """``s B A`` of a convolution adapter, as an ``out x in x k...`` kernel."""
    a = np.array(a_ref.load(), dtype=np.float64)
    b = np.array(b_ref.load(), dtype=np.float64)
    rank = a.shape[0]
    product: np.ndarray = scaling * (b.reshape(b.shape[0], rank) @ a.reshape(rank, -1))
    return product.reshape((b.shape[0], *a.shape[1:]))


def _pair_ref(
    module: str, a_ref: TensorRef, b_ref: TensorRef, config: AdapterConfig, embedding: bool
) -> TensorRef:
    origin = a_ref.origin
    rank = a_ref.shape[0]
    if b_ref.shape[1] != rank or (len(b_ref.shape) > 2 and math.prod(b_ref.shape[2:]) != 1):
        raise SourceError(
            origin,
            f"LoRA factors of {module!r} do not multiply: A is {a_ref.shape}, B is {b_ref.shape}",
        )
    if config.rank_pattern and config.rank_for(module) != rank:
        raise SourceError(
            origin,
            f"LoRA factors of {module!r} have rank {rank} but the config's rank_pattern "
            f"says {config.rank_for(module)}",
        )
    scaling = config.scaling(module, rank)
    name = module + ".weight"
    if len(a_ref.shape) > 2:  # convolution: the slices' spectra are pooled, so materialise
        shape = (b_ref.shape[0], *a_ref.shape[1:])
        loader = partial(_conv_product, a_ref, b_ref, scaling)
        return TensorRef(
            name, shape, a_ref.dtype, origin, loader, module_type=f"Conv{len(shape) - 2}d"
        )
    transpose = embedding or config.fan_in_fan_out
    out, inp = b_ref.shape[0], a_ref.shape[1]
    shape = (inp, out) if transpose else (out, inp)
    factors = partial(_low_rank_factors, a_ref, b_ref, scaling, transpose)
    return LowRankRef(
        name=name,
        shape=shape,
        dtype=a_ref.dtype,
        origin=origin,
        loader=partial(_product, a_ref, b_ref, scaling, transpose),
        module_type="Embedding" if embedding else None,
        rank=rank,
        scaling=scaling,
        factor_loader=factors,
    )


def adapter_refs(directory: Path) -> list[TensorRef]:
    """The updates of a PEFT LoRA adapter directory, one lazy tensor per target module.

    Raises
    ------
    SourceError
        If the config is unreadable or not LoRA, the weights are missing, or a module has
        only one of its two factors or factors that do not multiply.
    """
    config = read_adapter_config(directory)
    pairs: dict[tuple[str, bool], dict[str, TensorRef]] = {}
    others: list[TensorRef] = []
    for ref in _weight_refs(directory):
        match = _LORA_KEY.match(_strip(ref.name))
        if match is None:
            stripped = _strip(ref.name)
            others.append(
                TensorRef(stripped, ref.shape, ref.dtype, ref.origin, ref.loader, ref.module_type)
            )
            continue
        key = (match["module"], match["emb"] is not None)
        pairs.setdefault(key, {})[match["side"]] = ref
    refs = others
    for (module, embedding), sides in pairs.items():
        if set(sides) != {"A", "B"}:
            missing = "B" if "A" in sides else "A"
            raise SourceError(directory, f"LoRA module {module!r} has no lora_{missing} factor")
        refs.append(_pair_ref(module, sides["A"], sides["B"], config, embedding))
    return naturally_sorted(refs)


__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "AdapterConfig",
    "LowRankRef",
    "adapter_refs",
    "is_adapter_directory",
    "read_adapter_config",
]
