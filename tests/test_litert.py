"""The LiteRT export (core/models/litert_network.py, training/export_litert.py): same answers as Keras, used only while
it matches the .keras file it came from, gradient heatmaps still through Keras, and a command-line report that never
imports TensorFlow or scikit-learn."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import brain_slice, encode

from core.models.cards import WEIGHTS_DIR, file_sha256, read_evaluation, write_evaluation
from core.models.gradcam import gradcam_heatmap
from core.models.litert_network import export_paths, fresh_export
from core.models.registry import load_model
from training.export_litert import export_network

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exported(tiny_weights: Path, tmp_path_factory) -> Path:
    """A copy of the tiny weights with their LiteRT export."""
    folder = tmp_path_factory.mktemp("exported")
    shutil.copytree(tiny_weights, folder, dirs_exist_ok=True)
    export_network(folder, count=8)
    return folder


def test_the_export_answers_as_keras_does_and_records_its_source(exported: Path) -> None:
    card = read_evaluation(export_paths(exported, "tumour_net")[1])
    assert card["source_sha256"] == file_sha256(exported / "tumour_net.keras")
    found = card["parity"]["max_abs_difference"]
    assert found["probabilities"] < 1e-4 and found["mask"] < 1e-4 and found["type_decisions_that_differ"] == 0
    lite = load_model("tumour_net", exported)
    assert lite.engine == "LiteRT"
    size, channels = lite.spec.size, lite.spec.channels
    batch = np.random.default_rng(0).random((3, size, size, channels)).astype(np.float32)
    from core.models.keras_network import keras_runner

    expected = keras_runner(lite.model, lite.card["architecture"])(batch)
    for name, value in lite.predict_outputs(batch).items():
        np.testing.assert_allclose(value, expected[name], atol=1e-4, err_msg=name)


def test_an_export_of_another_keras_file_is_not_used(exported: Path, tmp_path: Path) -> None:
    shutil.copytree(exported, tmp_path, dirs_exist_ok=True)
    with open(tmp_path / "tumour_net.keras", "ab") as handle:
        handle.write(b"\0")  # a retrained network: the export no longer describes it
    assert fresh_export(tmp_path, "tumour_net") is None
    (tmp_path / "tumour_net.keras").write_bytes((exported / "tumour_net.keras").read_bytes())
    assert load_model("tumour_net", tmp_path).engine == "LiteRT"
    export_paths(tmp_path, "tumour_net")[0].unlink()
    assert load_model("tumour_net", tmp_path).engine == "Keras"


def test_a_gradient_heatmap_of_a_litert_model_comes_from_its_keras_model(exported: Path) -> None:
    model = load_model("tumour_net", exported)
    heatmap = gradcam_heatmap(model, brain_slice(96, 96), method="Grad-CAM")
    assert heatmap.shape == (96, 96) and 0 <= heatmap.min() <= heatmap.max() <= 1
    assert model.engine == "LiteRT"  # answers still come from LiteRT


def test_the_report_command_imports_neither_tensorflow_nor_scikit_learn(exported: Path, tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(exported, weights)
    card = read_evaluation(weights / "tumour_net.json")
    card["architecture"]["gradcam_method"] = "Attention"  # the shipped card's default; gradient maps need Keras
    write_evaluation(card, weights / "tumour_net.json")
    scan = tmp_path / "slice.png"
    scan.write_bytes(encode(brain_slice(96, 96)))
    script = ("import sys, json\nfrom core.__main__ import main\n"
              f"main(['report', {str(scan)!r}, '--out', {str(tmp_path / 'r.pdf')!r}, '--weights', {str(weights)!r}])\n"
              "print(json.dumps([name for name in ('tensorflow', 'keras', 'sklearn') if name in sys.modules]))")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


def test_the_shipped_export_is_fresh_and_agrees_with_its_network() -> None:
    if not (WEIGHTS_DIR / "tumour_net.keras").exists():
        pytest.skip("weights/tumour_net.keras is not there yet (still training)")
    assert fresh_export(WEIGHTS_DIR, "tumour_net") is not None, "re-run `python -m training.export_litert`"
    found = read_evaluation(export_paths(WEIGHTS_DIR, "tumour_net")[1])["parity"]["max_abs_difference"]
    assert found["probabilities"] < 1e-3 and found["type_decisions_that_differ"] == 0
