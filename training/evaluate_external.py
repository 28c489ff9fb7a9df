"""How the shipped tumour network generalises to brain MRI from collections it never saw; writes its card.

    python -m training.evaluate_external [--weights DIR] [--out weights/tumour_net_external.json]

Every 2D image of ``brain-mri-other/`` in the shared data folder (:func:`core.models.cards.data_dir`; laid out as
``<source>/<label>/<sequence>/``, ``volumes/`` and ``masks/`` are not inputs) goes through the app's own path:
:func:`core.io.read.read_scan`, then :func:`core.models.analysis.analyze` with the models and the out-of-distribution
guard of ``DIR``, so calibration, presence threshold, speck removal and flip averaging are exactly the app's. Reported
per source, per source and sequence, per sequence and pooled (with and without ``tcga_du7294_brainlesion``, a patient
who is also in ``lgg-kaggle_3m``):

- tumour slices: presence sensitivity and the predicted types (BraTS and TCGA gliomas should read glioma;
  metastases are none of the four classes, so only presence and Dice count for them);
- tumour-free slices: specificity, share with any mask pixel shown and the mean shown area fraction;
- Dice of the shown mask against the ground truth where ``masks/`` holds one (matched by file name);
- the guard's flag rate: every slice is a brain MRI, so every flag is a false flag.

This is a TEST set: the script never chooses or changes a threshold or any other rule; it only reads the cards.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.io.errors import InputError
from core.io.read import read_scan
from core.models.analysis import analyze
from core.models.cards import TUMOUR_NET, WEIGHTS_DIR, data_dir, file_sha256, weights_dir, write_evaluation
from core.models.ood import OodDetector, load_available_detector
from core.models.registry import LoadedModel, ModelMissingError, load_available_models
from training.brain_other_data import (
    MASK_ENCODINGS,
    TUMOUR_FREE_LABELS,
    TUMOUR_LABEL,
    ExternalSlice,
    is_validation_source,
    list_slices,
    read_truth,
)
from training.common import run_metadata
from training.fit_ood import flag_summary
from training.segmentation_metrics import any_mask_share, mask_dice, score_summary

DATA_FOLDER = "brain-mri-other"
CARD_NAME = f"{TUMOUR_NET}_external"
OVERLAP_SOURCE = "tcga_du7294_brainlesion"
EXPECTED_TYPES = {"brats2018_deepvoxnet2": "glioma", "brats2023_gli_sarah": "glioma",
                  "tcga_du7294_brainlesion": "glioma"}
"""The type each tumour source should be read as; metastases (``mets_t2w_sarah``) are none of the four classes."""
NOTES = {
    "test_set": "A test set: no threshold or rule was chosen or changed here. Temperature, presence threshold, speck "
                "size, flip averaging and the out-of-distribution threshold are those of the network's and the "
                "guard's cards, applied by core.models.analysis.analyze exactly as in the app.",
    "overlap": f"{OVERLAP_SOURCE} is TCGA-DU-7294, a patient also in lgg-kaggle_3m (TCGA_DU_7294_19890104), possibly "
               "in the network's training split; the BraTS 2018 TCIA cases also come from TCGA, like the LGG "
               f"patients. Pooled numbers are given with and without {OVERLAP_SOURCE}.",
    "types": "BraTS 2018, BraTS 2023 and TCGA-DU-7294 tumours are gliomas, so they should read glioma; metastases are "
             "none of the four classes, so only presence and Dice count for them.",
    "ood": "Every image is a brain MRI slice, so every out-of-distribution flag is a false flag.",
    "validation_sources": "alzheimer_kaggle_pinkshepz and brats2023_gli_sarah are validation sources: the network "
                          "and the guard were chosen on them, so only the held-out pooled row is a test of unseen "
                          "collections.",
}


def score_slice(item: ExternalSlice, models: dict[str, LoadedModel], detector: OodDetector | None,
                data_root: Path) -> dict:
    """One slice through the app's path: the answer, the shown mask's area and Dice; paths relative to
    ``data_root``.

    Raises:
        InputError: the app cannot read the file.
    """
    scan = read_scan(item.image.read_bytes(), item.image.name)
    analysis = analyze(scan, models, detector)
    record = {"file": str(item.image.relative_to(data_root)), "source": item.source, "label": item.label,
              "sequence": item.sequence, "has_tumour": item.has_tumour,
              "expected_type": EXPECTED_TYPES.get(item.source) if item.has_tumour else None,
              "predicted_type": analysis.predicted_type, "tumour_probability": analysis.tumour_probability,
              "tumour_present": analysis.tumour_present, "mask_area_fraction": analysis.mask_area_fraction,
              "ood": analysis.ood, "ood_score": analysis.ood_score,
              "mask_file": None, "mask_resized": False, "dice": None}
    if item.mask is not None:
        truth, resized = read_truth(item.mask, item.source, scan.pixels.shape)
        record |= {"mask_file": str(item.mask.relative_to(data_root)), "mask_resized": resized,
                   "dice": float(mask_dice(truth[None], analysis.mask[None])[0])}
    return record


def _share(flags: Sequence[bool]) -> float | None:
    """The share of True values, None when there are none to count."""
    return float(np.mean(flags)) if len(flags) else None


def summarise(records: Sequence[dict], class_names: Sequence[str], detector: OodDetector | None) -> dict:
    """Presence, types, masks on tumour-free slices, Dice and false flags of a group of scored slices."""
    tumour = [r for r in records if r["has_tumour"]]
    free = [r for r in records if not r["has_tumour"]]
    expected = [r for r in tumour if r["expected_type"]]
    # Images differ in size, so each slice's shown fraction stands in for its mask (the same share and mean).
    fractions = np.array([r["mask_area_fraction"] for r in free], dtype=float)[:, None]
    scored = [r for r in records if r["mask_file"]]
    dice = np.array([r["dice"] for r in scored], dtype=float)
    # Dice where a mask is shown separates poor outlines from slices the network shows no outline on.
    shown = dice[np.array([r["mask_area_fraction"] > 0 for r in scored], dtype=bool)]
    return {
        "slices": len(records),
        "tumour": {"count": len(tumour), "sensitivity": _share([r["tumour_present"] for r in tumour]),
                   "predicted_types": {name: sum(r["predicted_type"] == name for r in tumour) for name in class_names},
                   "expected_type_count": len(expected),
                   "expected_type_share": _share([r["predicted_type"] == r["expected_type"] for r in expected])},
        "tumour_free": {"specificity": _share([not r["tumour_present"] for r in free]), **any_mask_share(fractions)},
        "dice": {"count": int(np.isfinite(dice).sum()), **score_summary(dice), "shown_count": len(shown),
                 "mean_where_shown": score_summary(shown)["mean"]},
        "ood": (flag_summary(np.array([r["ood_score"] for r in records]), detector.threshold_)
                if detector is not None and records else None),
    }


def group_by(records: Sequence[dict], key: str) -> dict[str, list[dict]]:
    """``records`` by their value of ``key``, in sorted order."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        groups[record[key]].append(record)
    return dict(sorted(groups.items()))


def summarise_groups(records: Sequence[dict], class_names: Sequence[str], detector: OodDetector | None) -> dict:
    """:func:`summarise` per source (and per sequence within it), per sequence across sources, and pooled: all of
    them, without the LGG-linked source, the held-out sources alone (never used for a choice: the test proper) and the
    validation sources alone (they chose the network, :func:`training.brain_other_data.is_validation_source`)."""
    def summary(group: Sequence[dict]) -> dict:
        return summarise(group, class_names, detector)

    return {"sources": {source: {"all": summary(group),
                                 "by_sequence": {sequence: summary(members)
                                                 for sequence, members in group_by(group, "sequence").items()}}
                        for source, group in group_by(records, "source").items()},
            "sequences": {sequence: summary(group) for sequence, group in group_by(records, "sequence").items()},
            "pooled": {"all": summary(records),
                       f"without_{OVERLAP_SOURCE}": summary([r for r in records if r["source"] != OVERLAP_SOURCE]),
                       "held_out": summary([r for r in records if not is_validation_source(r["source"])]),
                       "validation": summary([r for r in records if is_validation_source(r["source"])])}}


def data_section(slices: Sequence[ExternalSlice], records: Sequence[dict], unreadable: Sequence[dict]) -> dict:
    """What was read: counts, the mask rules, the masks resized to their image, and the files the app refused."""
    resized = [r["mask_file"] for r in records if r["mask_resized"]]
    return {
        "root": DATA_FOLDER,
        "paths": "relative to the shared data folder (../shared/data)",
        "layout": "<source>/<label>/<sequence>/; volumes/ and masks/ are not inputs",
        "counts": {"images": len(slices), "scored": len(records), "unreadable": len(unreadable),
                   "tumour": sum(r["has_tumour"] for r in records),
                   "tumour_free": sum(not r["has_tumour"] for r in records),
                   "by_label": {label: sum(r["label"] == label for r in records)
                                for label in (TUMOUR_LABEL, *TUMOUR_FREE_LABELS)},
                   "with_mask": sum(bool(r["mask_file"]) for r in records),
                   "tumour_without_mask": sum(r["has_tumour"] and not r["mask_file"] for r in records)},
        "masks": {"encodings": {source: text for source, (_, text) in MASK_ENCODINGS.items()},
                  "matching": "same file name as the image, or the image's name without its sequence plus _mask",
                  "resized": resized,
                  "resized_note": (f"{len(resized)} mask(s) differed in size from their image and were resized to it "
                                   "with nearest neighbour" if resized else "no mask needed resizing")},
        "unreadable": list(unreadable),
    }


def model_section(weights: Path, model: LoadedModel, detector: OodDetector | None) -> dict:
    """Which network and which of its rules were measured; the SHA-256 shows when this card has gone stale."""
    card = model.card
    return {"name": TUMOUR_NET, "sha256": file_sha256(weights / f"{TUMOUR_NET}.keras"),
            "trained": (card.get("run") or {}).get("date"), "class_names": model.class_names,
            "temperature": card["calibration"]["temperature"], "presence_threshold": card["presence"]["threshold"],
            "min_component_px": card["segmentation"]["min_component_px"], "test_time_flip": model.flips,
            "ood_detector": detector is not None, "ood_threshold": detector.threshold_ if detector else None}


def evaluate_external(weights: Path, data_root: Path, out: Path, command: Sequence[str]) -> dict:
    """Score every 2D image of ``data_root/brain-mri-other`` with the models in ``weights``; write the card to
    ``out`` and return it.

    Raises:
        ModelMissingError: the tumour network is not in ``weights``.
        FileNotFoundError: the data folder is absent.
    """
    started = time.time()
    weights, data_root = Path(weights), Path(data_root)
    folder = data_root / DATA_FOLDER
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not there; put the brain-mri-other data set in the shared data folder.")
    models = load_available_models(weights)
    if TUMOUR_NET not in models:
        raise ModelMissingError(f"The tumour network is not in {weights}.")
    model, detector = models[TUMOUR_NET], load_available_detector(weights)
    slices = list_slices(folder)
    records, unreadable = [], []
    for item in slices:
        try:
            records.append(score_slice(item, models, detector, data_root))
        except InputError as err:
            unreadable.append({"file": str(item.image.relative_to(data_root)), "error": str(err)})
    card = {
        "task": "external test: the shipped tumour network on brain MRI from collections it never saw",
        "name": CARD_NAME,
        "model": model_section(weights, model, detector),
        "data": data_section(slices, records, unreadable),
        "notes": NOTES,
        "results": summarise_groups(records, model.class_names, detector),
        "slices": records,
        "run": run_metadata(list(command), time.time() - started),
    }
    write_evaluation(card, out)
    return card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=weights_dir())
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / f"{CARD_NAME}.json")
    args = parser.parse_args(argv)
    flags = [f"--{name}={value}" for name, value in (("weights", args.weights), ("out", args.out))
             if value != parser.get_default(name)]
    card = evaluate_external(args.weights, data_dir(), args.out, ["training.evaluate_external", *flags])
    for name, pooled in card["results"]["pooled"].items():
        print(f"{name}: sensitivity {pooled['tumour']['sensitivity']}, specificity "
              f"{pooled['tumour_free']['specificity']}, mean Dice {pooled['dice']['mean']}, "
              f"OOD false flags {(pooled['ood'] or {}).get('flag_rate')}")
    print(f"wrote {args.out} in {card['run']['wall_time_s']} s")


if __name__ == "__main__":
    main()
