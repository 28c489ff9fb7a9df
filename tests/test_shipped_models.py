"""The shipped tumour network reproduces its card through the app's own path; tests skip while it or the data is absent.

Issue 10's targets (type >= 99 %, Dice >= 0.88, ...) are reported against in the README from the card; these tests
guard that the app path (read_image -> analyze) gives the card's numbers, so a preprocessing or gating change that
breaks the model cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import brain_slice, encode

from core.io.read import read_image
from core.models.analysis import analyze
from core.models.cards import WEIGHTS_DIR, read_evaluation
from core.models.metrics import dice_score
from core.models.registry import LoadedModel, load_model
from training.tumour_data import make_splits, read_mask

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KAGGLE_TESTING = DATA / "brain-tumor-mri-4class" / "Testing"
BRISC = DATA / "brisc2025-seg"
SAMPLE_SEED = 2025
SAMPLING_TOLERANCE = 0.03
"""How far a 200-image sample may fall below the card's accuracy on all 1,311 test images (about 2 standard errors)."""
DICE_TOLERANCE = 0.05
"""How far 100 validation slices may fall below the card's mean Dice over all BRISC validation slices."""


def shipped() -> LoadedModel:
    if not (WEIGHTS_DIR / "tumour_net.keras").exists() or not (WEIGHTS_DIR / "tumour_net.json").exists():
        pytest.skip("weights/tumour_net.keras or its card is not there yet (still training)")
    return load_model("tumour_net", WEIGHTS_DIR)


def require(folder: Path) -> None:
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")


def sample(items: list, count: int) -> list:
    """A fixed, seeded sample, so the test measures the same files on every run."""
    chosen = np.random.default_rng(SAMPLE_SEED).choice(len(items), size=min(count, len(items)), replace=False)
    return [items[i] for i in sorted(chosen)]


@pytest.mark.data
def test_shipped_network_type_matches_its_card_on_200_test_images() -> None:
    require(KAGGLE_TESTING)
    model = shipped()
    card_accuracy = model.card["type"]["test"]["kaggle_official"]["accuracy"]
    files = sample(sorted(p for p in KAGGLE_TESTING.glob("*/*") if p.is_file()), 200)
    correct = sum(analyze(read_image(path.read_bytes(), path.name), {"tumour_net": model}).predicted_type
                  == path.parent.name for path in files)
    assert correct / len(files) >= card_accuracy - SAMPLING_TOLERANCE


@pytest.mark.data
def test_shipped_network_mask_matches_its_card_on_100_brisc_validation_slices() -> None:
    require(BRISC / "train")
    model = shipped()
    card_dice = model.card["segmentation"]["brisc_validation"]["dice"]["mean"]
    brisc = [s for s in make_splits(seed=model.card["config"]["seed"]).val if s.source == "brisc"]
    scores = []
    for item in sample(brisc, 100):
        scan = read_image(Path(item.image).read_bytes(), item.image)
        predicted = analyze(scan, {"tumour_net": model}).mask
        scores.append(np.nan_to_num(dice_score(read_mask(item.mask, scan.pixels.shape), predicted), nan=0.0))
    assert np.mean(scores) >= card_dice - DICE_TOLERANCE


def missing_keys(card: dict, paths: list[str]) -> list[str]:
    """The dotted ``paths`` (e.g. "run.command") that ``card`` lacks."""
    missing = []
    for path in paths:
        node = card
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                missing.append(path)
                break
            node = node[key]
    return missing


SPLIT_KEYS = ["accuracy", "macro_f1", "per_class", "confusion_matrix", "roc", "calibration.bins", "calibration.ece",
              "misclassified"]


def test_network_card_schema() -> None:
    path = WEIGHTS_DIR / "tumour_net.json"
    if not path.exists():
        pytest.skip("weights/tumour_net.json is not there yet (still training)")
    card = read_evaluation(path)
    required = ["architecture.parameters", "architecture.gradcam_layer", "input", "class_names", "data",
                "run.command", "run.date", "run.wall_time_s", "history", "training.epochs_per_hour",
                "calibration.temperature", "presence.threshold", "segmentation.min_component_px",
                "heatmap.candidates", *(f"type.test.{split}.{key}" for split in ("kaggle_official",
                                                                                 "kaggle_deduplicated")
                                        for key in SPLIT_KEYS)]
    assert missing_keys(card, required) == []
    epochs = {len(values) for values in card["history"].values()}
    assert len(epochs) == 1 and epochs.pop() == card["training"]["epochs_run"]
    assert "/" not in card["data"]["root"] and not any(m["file"].startswith("/") for m in
                                                       card["type"]["test"]["kaggle_official"]["misclassified"])


def test_shipped_network_answers_consistently_on_generated_slices() -> None:
    model = shipped()
    for seed in range(3):
        result = analyze(read_image(encode(brain_slice(120, 100, seed)), "generated.png"), {"tumour_net": model})
        assert 0.0 <= result.tumour_probability <= 1.0
        assert result.tumour_probability == pytest.approx(1.0 - result.type_probabilities["notumor"])
        assert result.tumour_present or result.mask_area_px == 0
