"""Keras 3: ``.keras``, ``.weights.h5`` and legacy ``.h5`` files written by Keras itself (torch
backend, in a subprocess), checked against the weights Keras reads back from each file."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import htsr
from fixtures.spectra import assert_same_esd
from htsr.errors import MissingExtraError, SourceError
from htsr.sources import open_model

#: Run with KERAS_BACKEND=torch: builds a functional model with Conv2D, Embedding and Dense
#: layers, saves it in the three formats, reloads each with Keras and dumps what Keras read.
_WRITE = r"""
import sys
from pathlib import Path
import keras, numpy as np

out = Path(sys.argv[1])
keras.utils.set_random_seed(0)
img = keras.Input((12, 12, 3), name="img")
ids = keras.Input((8,), dtype="int32", name="ids")
x = keras.layers.Flatten()(keras.layers.Conv2D(16, 3, name="conv")(img))
e = keras.layers.Flatten()(keras.layers.Embedding(60, 24, name="embed")(ids))
h = keras.layers.Dense(30, name="hidden")(keras.layers.Concatenate()([x, e]))
model = keras.Model([img, ids], keras.layers.Dense(10, name="head")(h), name="net")
model.save(out / "model.keras")
model.save_weights(out / "model.weights.h5")
model.save(out / "legacy.h5")
read = {}
for layer in keras.saving.load_model(out / "model.keras").layers:
    for i, w in enumerate(layer.weights):
        read[f"keras|{layer.name}/vars/{i}"] = np.asarray(w.numpy())
fresh = keras.models.clone_model(model)
fresh.load_weights(out / "model.weights.h5")
for layer in fresh.layers:
    for i, w in enumerate(layer.weights):
        read[f"weights|{layer.name}/vars/{i}"] = np.asarray(w.numpy())
for w in keras.saving.load_model(out / "legacy.h5").weights:
    read[f"legacy|{w.path}"] = np.asarray(w.numpy())
np.savez(out / "read.npz", **{k.replace("/", "::"): v for k, v in read.items()})
"""


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    out = tmp_path_factory.mktemp("keras")
    env = os.environ | {"KERAS_BACKEND": "torch"}
    subprocess.run([sys.executable, "-c", _WRITE, str(out)], env=env, check=True, timeout=300)
    with np.load(out / "read.npz") as read:
        expected = {k.replace("::", "/"): read[k] for k in read.files}
    return out, expected


@pytest.mark.parametrize(
    ("fmt", "file"),
    [("keras", "model.keras"), ("weights", "model.weights.h5"), ("legacy", "legacy.h5")],
)
def test_every_weight_matches_keras(
    keras_files: tuple[Path, dict[str, np.ndarray]], fmt: str, file: str
) -> None:
    out, read = keras_files
    expected = {k.split("|", 1)[1]: v for k, v in read.items() if k.startswith(f"{fmt}|")}
    report = htsr.analyze(out / file)
    rows = report.layers.set_index("name")
    assert set(rows.index) == set(expected)  # the layer names of the file
    for name, array in expected.items():
        refs = {r.name: r for r in open_model(out / file).refs}
        np.testing.assert_array_equal(refs[name].load(), array)
        if array.ndim >= 2:
            assert rows.loc[name, "status"] == "ok"
            assert_same_esd(report, name, array, channels_last=True)


def test_kinds_and_layouts(keras_files: tuple[Path, dict[str, np.ndarray]]) -> None:
    out, _ = keras_files
    rows = htsr.describe(out / "model.keras").set_index("name")
    conv = rows.loc["conv/vars/0"]  # (3, 3, 3, 16), channels last: 9 slices of 3 x 16
    assert (conv["kind"], conv["num_slices"], conv["N"], conv["M"]) == ("conv2d", 9, 16, 3)
    assert rows.loc["embed/vars/0", "kind"] == "embedding"
    # Dense kernel (in, out): in = 10*10*16 (conv) + 8*24 (embedding) = 1792
    assert rows.loc["hidden/vars/0", "shape"] == "1792x30"
    assert rows.loc["hidden/vars/0", "kind"] == "dense"
    legacy = htsr.describe(out / "legacy.h5").set_index("name")
    assert legacy.loc["conv/kernel", "num_slices"] == 9
    assert list(legacy.index) == [  # layer order of the file, its weight names
        "conv/kernel",
        "conv/bias",
        "embed/embeddings",
        "hidden/kernel",
        "hidden/bias",
        "head/kernel",
        "head/bias",
    ]
    assert list(rows.index) == [  # .keras: the configuration's layer order
        "conv/vars/0",
        "conv/vars/1",
        "embed/vars/0",
        "hidden/vars/0",
        "hidden/vars/1",
        "head/vars/0",
        "head/vars/1",
    ]


def test_directory_with_a_keras_archive(keras_files: tuple[Path, dict[str, np.ndarray]]) -> None:
    out, _ = keras_files
    directory = out / "only_archive"
    directory.mkdir(exist_ok=True)
    (directory / "model.keras").write_bytes((out / "model.keras").read_bytes())
    assert len(open_model(directory).refs) == 7


@pytest.mark.parametrize("file", ["model.keras", "model.weights.h5", "legacy.h5"])
def test_truncated_file_iv(
    keras_files: tuple[Path, dict[str, np.ndarray]], tmp_path: Path, file: str
) -> None:
    data = (keras_files[0] / file).read_bytes()
    path = tmp_path / file
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="corrupt or truncated Keras file") as e:
        open_model(path)
    assert e.value.path == str(path)


def test_zip_without_weights_iv(tmp_path: Path) -> None:
    path = tmp_path / "other.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(SourceError, match=r"not a \.keras archive \(no model.weights.h5\)"):
        open_model(path)


def test_missing_extra_iv(
    keras_files: tuple[Path, dict[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"reading a Keras file .*htsr\[formats\]"):
        open_model(keras_files[0] / "model.weights.h5")
