"""training.evaluate_external on a tiny brain-mri-other-like tree, and the table the performance page shows of it.

The tiny network (conftest ``tiny_weights``) calls every slice a glioma with a tumour present and outlines the bright
blob of :func:`helpers.brain_slice`, so a ground-truth mask equal to the blob scores Dice 1 and one beside it 0.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import brain_slice, write_image
from PIL import Image

from core.models import ood
from core.models.cards import file_sha256
from core.models.preprocess import preprocess_slice
from core.models.registry import load_model
from core.present.summaries import external_table
from training.evaluate_external import DATA_FOLDER, OVERLAP_SOURCE, evaluate_external

SIZE = 64


def blob(seed: int) -> np.ndarray:
    """The bright blob of ``brain_slice(SIZE, SIZE, seed)``, as a {0, 1} mask."""
    return (brain_slice(SIZE, SIZE, seed) > 0.9).astype(np.uint8)


def write_mask(path: Path, mask: np.ndarray, colour: tuple[int, int, int] = (255, 255, 255), fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask[..., None] * np.array(colour, dtype=np.uint8)).save(path, format=fmt)


def build_tree(root: Path) -> Path:
    """A brain-mri-other-like folder under ``root``: 5 tumour slices with masks (4 on the blob, 1 beside it and
    half the image's size), 3 tumour-free slices, and files that are no inputs (a volume, the README)."""
    folder = root / DATA_FOLDER
    brats = folder / "brats2018_deepvoxnet2"
    for sequence in ("flair", "t1"):  # both sequences share one mask, named without the sequence
        write_image(brats / "tumour" / sequence / f"Brats18_A_1_{sequence}_z050.png", brain_slice(SIZE, SIZE, 1), "PNG")
    write_mask(brats / "masks" / "Brats18_A_1_z050_mask.png", blob(1))
    write_image(brats / "no_tumour_slice" / "flair" / "Brats18_A_1_flair_z010.png", brain_slice(SIZE, SIZE, 2), "PNG")
    gli = folder / "brats2023_gli_sarah"
    write_image(gli / "tumour" / "flair" / "brats23_1_1.png", brain_slice(SIZE, SIZE, 3), "PNG")
    write_mask(gli / "masks" / "brats23_1_1.png", blob(3), colour=(0, 0, 255))  # dark blue: grey 29, still tumour
    mets = folder / "mets_t2w_sarah"
    write_image(mets / "tumour" / "t2w" / "mets_B_1.jpg", brain_slice(SIZE, SIZE, 4), "JPEG")
    corner = np.zeros((SIZE // 2, SIZE // 2), np.uint8)
    corner[:4, :4] = 1  # far from the blob, and resized to the image with nearest neighbour
    write_mask(mets / "masks" / "mets_B_1.jpg", corner, fmt="JPEG")
    tcga = folder / OVERLAP_SOURCE
    write_image(tcga / "tumour" / "flair" / "TCGA-DU-7294_flair_z100.png", brain_slice(SIZE, SIZE, 5), "PNG")
    write_mask(tcga / "masks" / "TCGA-DU-7294_z100_mask.png", blob(5))
    write_image(folder / "ixi_nichart" / "normal" / "t1" / "ixi_1.png", brain_slice(SIZE, SIZE, 6), "PNG")
    write_image(folder / "alzheimer_kaggle_pinkshepz" / "no_tumour" / "t1" / "NonDemented" / "nonDem0.jpg",
                brain_slice(SIZE, SIZE, 7))
    write_image(folder / "volumes" / "case" / "a" / "slice.png", brain_slice(SIZE, SIZE, 8), "PNG")
    (folder / "README.md").write_text("not an input")
    return root


@pytest.fixture(scope="module")
def weights(tiny_weights: Path, tmp_path_factory) -> Path:
    """The tiny network plus an out-of-distribution guard fitted on brain-like slices, in a private folder."""
    folder = tmp_path_factory.mktemp("external_weights")
    for path in tiny_weights.iterdir():
        shutil.copy(path, folder / path.name)
    network = load_model("tumour_net", folder)
    slices = np.stack([preprocess_slice(brain_slice(72, 96, seed=s), network.spec) for s in range(100, 140)])
    ood.save_detector(ood.fit_detector(slices[:30], np.zeros(30, dtype=int), slices[30:], network), folder)
    return folder


@pytest.fixture(scope="module")
def run(weights: Path, tmp_path_factory) -> tuple[dict, Path, Path]:
    """The evaluation of the tiny tree: (card, data root, card path)."""
    root = build_tree(tmp_path_factory.mktemp("data"))
    out = tmp_path_factory.mktemp("cards") / "tumour_net_external.json"
    return evaluate_external(weights, root, out, ["training.evaluate_external"]), root, out


def test_every_2d_input_is_counted_and_volumes_masks_and_readme_are_not(run) -> None:
    card, _, _ = run
    counts = card["data"]["counts"]
    assert (counts["images"], counts["scored"], counts["unreadable"]) == (8, 8, 0)
    assert (counts["tumour"], counts["tumour_free"], counts["with_mask"], counts["tumour_without_mask"]) == (5, 3, 5, 0)
    assert counts["by_label"] == {"tumour": 5, "no_tumour": 1, "normal": 1, "no_tumour_slice": 1}
    assert not any("volumes" in r["file"] or "/masks/" in r["file"] for r in card["slices"])
    sources = card["results"]["sources"]
    assert list(sources["brats2018_deepvoxnet2"]["by_sequence"]) == ["flair", "t1"]
    assert sources["alzheimer_kaggle_pinkshepz"]["all"]["tumour_free"]["count"] == 1


def test_dice_follows_each_sources_mask_rule_and_resized_masks_are_named(run) -> None:
    card, _, _ = run
    dice = {Path(r["file"]).name: r["dice"] for r in card["slices"] if r["mask_file"]}
    for name in ("Brats18_A_1_flair_z050.png", "Brats18_A_1_t1_z050.png", "brats23_1_1.png",
                 "TCGA-DU-7294_flair_z100.png"):
        assert dice[name] == pytest.approx(1.0, abs=0.03), name
    assert dice["mets_B_1.jpg"] == 0.0
    assert card["data"]["masks"]["resized"] == [f"{DATA_FOLDER}/mets_t2w_sarah/masks/mets_B_1.jpg"]
    assert "1 mask(s)" in card["data"]["masks"]["resized_note"]
    pooled = card["results"]["pooled"]
    assert pooled["all"]["dice"]["count"] == pooled["all"]["dice"]["shown_count"] == 5
    assert pooled["all"]["dice"]["mean"] == pytest.approx(0.8, abs=0.03)
    assert pooled[f"without_{OVERLAP_SOURCE}"]["dice"]["mean"] == pytest.approx(0.75, abs=0.03)
    assert card["results"]["sources"]["mets_t2w_sarah"]["all"]["dice"]["median"] == 0.0


def test_presence_types_masks_on_free_slices_and_false_flags_are_reported(run) -> None:
    card, _, _ = run
    pooled = card["results"]["pooled"]["all"]
    assert pooled["tumour"]["sensitivity"] == 1.0  # the tiny network finds a tumour everywhere
    assert pooled["tumour"]["predicted_types"] == {"glioma": 5, "meningioma": 0, "notumor": 0, "pituitary": 0}
    assert (pooled["tumour"]["expected_type_count"], pooled["tumour"]["expected_type_share"]) == (4, 1.0)
    free = pooled["tumour_free"]
    assert (free["count"], free["specificity"], free["share_with_any_pixels"]) == (3, 0.0, 1.0)
    assert free["mean_fraction"] == pytest.approx(np.mean([blob(s).mean() for s in (2, 6, 7)]), abs=0.005)
    assert pooled["ood"]["count"] == 8 and 0.0 <= pooled["ood"]["flag_rate"] <= 1.0
    assert card["results"]["pooled"][f"without_{OVERLAP_SOURCE}"]["slices"] == 7
    # validation: the BraTS 2023 tumour and the Alzheimer slice; held out: everything else (TCGA included)
    groups = card["results"]["pooled"]
    assert (groups["validation"]["slices"], groups["held_out"]["slices"]) == (2, 6)
    assert card["model"]["ood_detector"] and card["model"]["presence_threshold"] == 0.5


def test_card_holds_relative_paths_the_network_hash_and_the_command(run, weights: Path) -> None:
    card, root, out = run
    text = out.read_text()
    assert str(root) not in text and str(weights) not in text
    for record in card["slices"]:
        for key in ("file", "mask_file"):
            if record[key]:
                assert not Path(record[key]).is_absolute() and (root / record[key]).is_file()
    assert card["model"]["sha256"] == file_sha256(weights / "tumour_net.keras")
    assert card["run"]["command"] == "python -m training.evaluate_external" and card["run"]["date"]
    assert set(card["notes"]) >= {"test_set", "overlap"} and "lgg-kaggle_3m" in card["notes"]["overlap"]
    assert json.loads(text)["name"] == "tumour_net_external"


def test_external_table_has_a_row_per_source_and_sequence_then_the_pooled_rows(run) -> None:
    _, _, out = run
    table = external_table(json.loads(out.read_text()))
    assert len(table) == 7 + 4
    assert list(table["Source"][-4:]) == ["All sources", f"All sources without {OVERLAP_SOURCE}",
                                          "Held-out sources (the test)", "Validation sources (chose the network)"]
    mets = table[table["Source"] == "mets_t2w_sarah"].iloc[0]
    assert (mets["Sequence"], mets["Tumour slices"], mets["Sensitivity"], mets["Mean Dice"]) == ("t2w", 1, 1.0, 0.0)
    assert np.isnan(mets["Specificity"])  # no tumour-free slice in that group
    assert table["Tumour slices"].dtype == "Int64"
    ixi = table[table["Source"] == "ixi_nichart"].iloc[0]
    assert (ixi["Specificity"], ixi["Any mask shown"]) == (0.0, 1.0) and np.isnan(ixi["Mean Dice"])
    assert table["OOD false flags"].between(0, 1).all()


def test_external_table_is_empty_without_a_card() -> None:
    assert external_table({}).empty and external_table(None).empty


def test_validation_slices_are_the_development_sources_only_with_colour_masks_read_as_tumour(tmp_path: Path) -> None:
    from core.models.preprocess import InputSpec
    from training.brain_other_data import validation_slices
    from training.tumour_data import GLIOMA, NO_TUMOUR, load_slices

    slices = validation_slices(build_tree(tmp_path) / DATA_FOLDER)
    assert sorted((s.source, s.label, s.mask_known) for s in slices) == [
        ("alzheimer_kaggle_pinkshepz", NO_TUMOUR, True), ("brats2023_gli_sarah", GLIOMA, True)]
    arrays = load_slices(slices, InputSpec(size=SIZE), workers=1)
    tumour = arrays.masks[arrays.labels == GLIOMA]
    assert tumour.sum() > 0 and arrays.masks[arrays.labels == NO_TUMOUR].sum() == 0
