"""Calibrate, set the operating rules of, and evaluate the tumour network; write weights/tumour_net.json (its card).

    python -m training.evaluate_tumour_net [--weights weights/tumour_net.keras] [--heatmap-slices 120]

Every rule is chosen on validation slices only (Kaggle validation, BRISC masks on those images, LGG validation
patients), never on a test split:
- test-time flip averaging: adopted when it raises the validation score by :data:`FLIP_MARGIN` (then every number
  below, and the app, use it);
- temperature: negative log-likelihood of the validation logits;
- presence threshold on 1 - P(no tumour): the highest one that keeps validation sensitivity >= 99.5 % on Kaggle and
  >= 95 % on LGG tumour slices (:data:`SENSITIVITY_TARGETS`), tumour-free slices of both sources measuring
  specificity;
- smallest region kept in the mask: the size that maximises validation Dice on tumour slices minus the share of
  tumour-free validation slices that still show a mask;
- default heatmap method and layer: the pair with the best pointing game on BRISC validation slices (each method's
  best layer is the one it reads in the app).
When the network was chosen with the other collections' validation sources (``brain-mri-other``, see
:mod:`training.brain_other_data`), their type accuracy and presence at the chosen threshold are reported beside the
rest of the validation; they set no rule. Then the test splits: Kaggle official and deduplicated (type, presence),
LGG test patients (presence, per-patient Dice, tumour-free slices with any mask pixel), Kaggle ``notumor`` test slices
(any mask pixel).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from scipy import ndimage

from core.models.cards import WEIGHTS_DIR, write_evaluation
from core.models.gradcam import ATTENTION, GRADIENT_METHODS
from core.models.gradient_cams import compute_cam
from core.models.keras_network import type_view
from core.models.metrics import binary_summary, classification_summary, fit_temperature, reliability_bins, softmax
from core.models.network_layers import ATTENTION_LAYER
from core.models.preprocess import InputSpec, resize
from core.models.tumour import gate_mask, tumour_probability
from core.present.summaries import dig, network_measures
from training.architectures import NETWORK_LAYERS
from training.brain_other_data import validation_slices
from training.data import CLASS_NAMES, DEFAULT_ROOT
from training.segmentation_metrics import any_mask_share, grouped_mean, mask_dice, score_summary, volume_dice
from training.tracking import Tracker
from training.train_tumour_net import (
    EARLIER_STAGES,
    MODEL_NAME,
    RUNS_DIR,
    predict_logits_and_masks,
    validation_scores,
)
from training.tumour_data import (
    BRISC_ROOT,
    LGG_ROOT,
    LabelledSlice,
    SliceArrays,
    TumourSplits,
    load_slices,
    make_splits,
    read_mask,
)

SENSITIVITY_TARGETS = {"kaggle": 0.995, "lgg": 0.95}
"""Validation sensitivity each tumour source must keep at the presence threshold. LGG's is lower: its volumes end in
slices with a few pixels of FLAIR abnormality, which would drag a 99.5 % rule to a near-zero threshold and cost most of
the specificity on tumour-free LGG slices."""
SPECK_CANDIDATES_PX = (0, 8, 16, 32, 64, 128)
HEATMAP_LAYERS = ("stage2", "stage3", "last_conv")
POINTING_DILATION_AT_512 = 15
"""Pointing-game tolerance: the mask is dilated by 15 px at 512 px (scaled to each image's size)."""


@dataclass
class Outputs:
    """Raw network outputs for one split, with the arrays they came from."""

    arrays: SliceArrays
    logits: np.ndarray
    mask_probs: np.ndarray  # N x S x S


def predict_split(model: keras.Model, arrays: SliceArrays, flip: bool = False) -> Outputs:
    return Outputs(arrays, *predict_logits_and_masks(model, arrays.x, flip=flip))


FLIP_MARGIN = 0.002
"""Test-time flip averaging doubles the forward pass; it is adopted only when it raises the validation score (mean of
macro-F1 and Dice, the training monitor) by at least this much."""


def choose_flip(model: keras.Model, arrays: SliceArrays) -> tuple[dict, Outputs]:
    """Whether to average each slice with its mirror image, decided on validation; returns the card section and the
    validation outputs under the chosen rule."""
    plain, flipped = predict_split(model, arrays), predict_split(model, arrays, flip=True)
    scores = {name: validation_scores(arrays, outputs.logits, outputs.mask_probs)
              for name, outputs in (("plain", plain), ("flip_averaged", flipped))}
    adopted = scores["flip_averaged"]["val_score"] >= scores["plain"]["val_score"] + FLIP_MARGIN
    return ({"adopted": bool(adopted), "validation": scores,
             "rule": f"adopted when it raises the validation score (mean of macro-F1 and Dice) by >= {FLIP_MARGIN}"},
            flipped if adopted else plain)


def relative(path: str, root: Path = DEFAULT_ROOT) -> str:
    """A Kaggle file's path relative to the data set's folder, the card's ``data.root`` (cards hold no machine
    paths)."""
    return str(Path(path).resolve().relative_to(Path(root).resolve()))


def evaluate_type(outputs: Outputs, temperature: float, list_mistakes: bool = True) -> dict:
    """Classification summary on calibrated probabilities, ECE before calibration and (for the Kaggle test splits)
    every misclassified file, relative to the Kaggle folder."""
    probs = softmax(outputs.logits, temperature)
    labels = outputs.arrays.labels
    summary = classification_summary(probs, labels, CLASS_NAMES)
    summary["ece_uncalibrated"] = reliability_bins(softmax(outputs.logits), labels)["ece"]
    predicted = probs.argmax(axis=1)
    if not list_mistakes:
        return summary
    summary["misclassified"] = [
        {"file": relative(outputs.arrays.slices[i].image), "true": CLASS_NAMES[labels[i]],
         "predicted": CLASS_NAMES[predicted[i]], "probability": float(probs[i, predicted[i]])}
        for i in np.flatnonzero(predicted != labels)]
    return summary


def presence_scores(outputs: Outputs, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """P(tumour) per slice and whether the slice truly shows a tumour."""
    return (tumour_probability(softmax(outputs.logits, temperature), CLASS_NAMES),
            outputs.arrays.labels != CLASS_NAMES.index("notumor"))


def choose_presence_threshold(scores: np.ndarray, positives: np.ndarray, sources: np.ndarray,
                              sensitivity: dict[str, float]) -> float:
    """Highest threshold at which every tumour source of the validation slices keeps its ``sensitivity``."""
    thresholds = []
    for source in np.unique(sources[positives]):
        members = np.sort(scores[positives & (sources == source)])
        allowed_misses = int(np.floor((1 - sensitivity[source]) * len(members)))
        thresholds.append(float(members[allowed_misses]))
    return min(thresholds)


def source_of(item: LabelledSlice) -> str:
    return "lgg" if item.source == "lgg" else "kaggle"


def gated_masks(outputs: Outputs, present: np.ndarray, min_component_px: int) -> np.ndarray:
    return np.stack([gate_mask(p, bool(keep), min_component_px) for p, keep in zip(outputs.mask_probs, present,
                                                                                   strict=True)])


def choose_speck_size(val: Outputs, present: np.ndarray) -> tuple[int, list[dict]]:
    """The smallest-region size that maximises validation Dice (tumour slices) minus the false-mask share."""
    known = val.arrays.mask_known
    truth = val.arrays.masks[..., 0]
    tumour = known & truth.reshape(len(truth), -1).any(axis=1)
    free = known & ~tumour
    rows = []
    for size in SPECK_CANDIDATES_PX:
        masks = gated_masks(val, present, size)
        dice = float(np.nanmean(np.nan_to_num(mask_dice(truth[tumour], masks[tumour]), nan=0.0)))
        false_share = float(masks[free].reshape(int(free.sum()), -1).any(axis=1).mean())
        rows.append({"min_component_px": size, "val_dice": dice, "val_tumour_free_with_mask": false_share,
                     "objective": dice - false_share})
    best = max(rows, key=lambda row: row["objective"])
    return int(best["min_component_px"]), rows


def native_dice(items: Sequence[LabelledSlice], probs: np.ndarray, present: np.ndarray,
                min_component_px: int) -> np.ndarray:
    """Dice at each image's own resolution, the mask drawn as the app draws it (gated, resized, thresholded)."""
    scores = []
    for item, prob, keep in zip(items, probs, present, strict=True):
        truth = read_mask(item.mask, _image_shape(item))
        shown = gate_mask(prob, bool(keep), min_component_px, truth.shape)
        scores.append(float(mask_dice(truth[None], shown[None])[0]))
    return np.array(scores)


def _image_shape(item: LabelledSlice) -> tuple[int, int]:
    from PIL import Image

    with Image.open(item.image) as image:
        return image.height, image.width


def evaluate_heatmaps(model: keras.Model, val: Outputs, spec: InputSpec, limit: int, seed: int,
                      flip: bool = False) -> dict:
    """Pointing game and heatmap mass inside the expert mask on BRISC validation slices, per method and layer.

    "Attention" has one layer (the type head's pooling weights) and is a candidate only for a network that has it.
    """
    brisc = [i for i, s in enumerate(val.arrays.slices) if s.source == "brisc"]
    picks = sorted(np.random.default_rng(seed).permutation(brisc)[:limit].tolist())
    type_model = type_view(model, NETWORK_LAYERS)
    predicted = softmax(val.logits).argmax(axis=1)
    layer_names = {layer.name for layer in model.layers}
    candidates = [(ATTENTION, ATTENTION_LAYER)] if ATTENTION_LAYER in layer_names else []
    candidates += [(method, layer) for method in GRADIENT_METHODS for layer in HEATMAP_LAYERS]
    rows = []
    for method, layer in candidates:
        hits, mass = [], []
        started = time.time()
        for index in picks:
            item = val.arrays.slices[index]
            cam = compute_cam(type_model, method, val.arrays.x[index:index + 1].astype(np.float32), layer,
                              int(predicted[index]), flip)
            truth = read_mask(item.mask, _image_shape(item)).astype(bool)
            heatmap = np.clip(resize(cam, truth.shape), 0.0, None)
            radius = max(1, round(POINTING_DILATION_AT_512 * max(truth.shape) / 512))
            dilated = ndimage.binary_dilation(truth, iterations=radius)
            peak = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
            hits.append(bool(dilated[peak]))
            mass.append(float(heatmap[truth].sum() / heatmap.sum()) if heatmap.sum() > 0 else 0.0)
        rows.append({"method": method, "layer": layer, "pointing_game": float(np.mean(hits)),
                     "mass_inside_mask": float(np.mean(mass)),
                     "ms_per_slice": round(1000 * (time.time() - started) / max(len(picks), 1), 1)})

    def rank(row: dict) -> tuple[float, float]:
        return row["pointing_game"], row["mass_inside_mask"]

    best = max(rows, key=rank)
    per_method = {method: max((row for row in rows if row["method"] == method), key=rank)["layer"]
                  for method in GRADIENT_METHODS}
    return {"slices": len(picks), "dilation_px_at_512": POINTING_DILATION_AT_512, "candidates": rows,
            "default_method": best["method"], "default_layer": best["layer"], "method_layers": per_method,
            "rule": "highest pointing game on BRISC validation slices (ties: more mass inside the mask)"}


SEPARATE_MODELS = {
    "classifier": {"type accuracy, Kaggle official test": ("test", "official", "accuracy"),
                   "type macro-F1, Kaggle official test": ("test", "official", "macro_f1"),
                   "type accuracy, Kaggle deduplicated test": ("test", "deduplicated", "accuracy"),
                   "wall time (s)": ("run", "wall_time_s"), "parameters": ("architecture", "parameters")},
    "presence": {"presence sensitivity, Kaggle official test": ("test", "kaggle_official", "sensitivity"),
                 "presence specificity, Kaggle official test": ("test", "kaggle_official", "specificity"),
                 "presence specificity, LGG validation patients": ("test", "lgg_patients", "specificity"),
                 "wall time (s)": ("run", "wall_time_s"), "parameters": ("architecture", "parameters")},
    "segmenter": {"BRISC validation mean Dice": ("validation", "brisc", "dice", "mean"),
                  "LGG validation per-patient Dice": ("validation", "lgg", "per_patient_mean_dice"),
                  "Kaggle notumor test slices with any mask pixel": ("validation", "false_positive_area",
                                                                     "kaggle_notumor_test", "share_with_any_pixels"),
                  "wall time (s)": ("run", "wall_time_s"), "parameters": ("architecture", "parameters")},
}
"""What the three separate models this network replaces measured, read from their cards when they are present."""


def separate_model_results(folder: Path) -> dict:
    """The headline numbers of the separate classifier, presence model and segmenter, from their cards kept in
    ``folder`` (``weights/previous``; they used other splits for LGG and BRISC validation, which the card notes)."""
    results = {}
    for name, entries in SEPARATE_MODELS.items():
        path = folder / f"{name}.json"
        if path.exists():
            card = json.loads(path.read_text())
            results[name] = {label: dig(card, *keys) for label, keys in entries.items()}
            results[name]["command"] = dig(card, "run", "command")
    return results


def evaluate_tumour_net(weights: Path, run_dir: Path, out_dir: Path, heatmap_slices: int,
                        kaggle_root: Path = DEFAULT_ROOT, brisc_root: Path = BRISC_ROOT,
                        lgg_root: Path = LGG_ROOT) -> dict:
    started = time.time()
    summary = json.loads((run_dir / "result.json").read_text())
    config = summary["config"]
    spec = InputSpec(size=config["image_size"])
    model = keras.saving.load_model(weights, compile=False)
    splits: TumourSplits = make_splits(kaggle_root, brisc_root, lgg_root, config["val_fraction"], seed=config["seed"])
    flip_card, val = choose_flip(model, load_slices(splits.val, spec))
    flip = flip_card["adopted"]
    tests = {"kaggle_official": predict_split(model, load_slices(splits.kaggle_test, spec), flip),
             "kaggle_deduplicated": predict_split(model, load_slices(splits.kaggle_test_deduplicated, spec), flip),
             "lgg_test_patients": predict_split(model, load_slices(splits.lgg_test, spec), flip)}

    temperature = fit_temperature(val.logits, val.arrays.labels)
    calibration = {"temperature": temperature,
                   "val_ece_before": reliability_bins(softmax(val.logits), val.arrays.labels)["ece"],
                   "val_ece_after": reliability_bins(softmax(val.logits, temperature), val.arrays.labels)["ece"]}
    type_card = {"test": {name: evaluate_type(tests[name], temperature)
                          for name in ("kaggle_official", "kaggle_deduplicated")},
                 "validation": evaluate_type(val, temperature, list_mistakes=False)}

    val_scores, val_positive = presence_scores(val, temperature)
    val_sources = np.array([source_of(s) for s in val.arrays.slices])
    threshold = choose_presence_threshold(val_scores, val_positive, val_sources, SENSITIVITY_TARGETS)
    presence_card = {
        "threshold": threshold,
        "threshold_rule": "highest threshold on 1 - P(no tumour) that keeps validation sensitivity >= "
                          + ", ".join(f"{target:.1%} on {source}" for source, target in SENSITIVITY_TARGETS.items())
                          + " tumour slices; tumour-free slices of both sources measure specificity",
        "validation": {source: binary_summary(val_scores[val_sources == source], val_positive[val_sources == source],
                                              threshold) for source in ("kaggle", "lgg")},
        "test": {name: binary_summary(*presence_scores(outputs, temperature), threshold)
                 for name, outputs in tests.items()},
    }

    if config.get("other_validation"):
        other = predict_split(model, load_slices(validation_slices(), spec), flip)
        other_scores, other_positive = presence_scores(other, temperature)
        type_card["validation_other_collections"] = {
            "accuracy": float((softmax(other.logits, temperature).argmax(axis=1) == other.arrays.labels).mean()),
            "count": len(other.arrays.labels)}
        presence_card["validation"]["other_collections"] = binary_summary(other_scores, other_positive, threshold)

    val_present = val_scores >= threshold
    min_component_px, speck_rows = choose_speck_size(val, val_present)
    segmentation_card = evaluate_segmentation(val, val_present, tests, temperature, threshold, min_component_px)
    segmentation_card.update(min_component_px=min_component_px, speck_candidates=speck_rows,
                             speck_rule="size maximising validation Dice on tumour slices minus the share of "
                                        "tumour-free validation slices that still show a mask")
    heatmap_card = evaluate_heatmaps(model, val, spec, heatmap_slices, config["seed"], flip)

    history = summary["history"]
    card = {
        "task": "tumour type (4 classes), presence and segmentation from one shared-encoder network",
        "name": MODEL_NAME,
        "architecture": {"name": model.name, "type": "shared residual encoder, 4-class type head, U-Net decoder",
                         "parameters": int(model.count_params()), "base_filters": config["base_filters"],
                         "depth": config["depth"], **NETWORK_LAYERS, "pooling": config.get("pooling", "gap"),
                         "gradcam_method": heatmap_card["default_method"],
                         "heatmap_layers": heatmap_card["method_layers"],
                         "gradcam_layer": heatmap_card["method_layers"][GRADIENT_METHODS[0]]}
                        | ({"attention_layer": ATTENTION_LAYER}
                           if any(row["method"] == ATTENTION for row in heatmap_card["candidates"]) else {}),
        "class_names": list(CLASS_NAMES),
        "input": spec.to_dict(),
        "config": config,
        "test_time_flip": flip_card,
        "calibration": calibration,
        "type": type_card,
        "presence": presence_card,
        "segmentation": segmentation_card,
        "heatmap": heatmap_card,
        "history": history,
        "best_epoch": summary["best_epoch"],
        "training": {key: summary[key] for key in ("epochs_run", "parts", "stopped_early", "tracking_run_id")}
        | {"wall_time_s": summary["run"]["wall_time_s"],
           "epochs_per_hour": round(summary["epochs_run"] / (summary["run"]["wall_time_s"] / 3600), 2),
           "earlier_stages": earlier_stages(config, out_dir / "previous")},
        "data": data_section(splits, summary),
        **({"soup": summary["soup"]} if "soup" in summary else {}),
        "separate_models": {"results": separate_model_results(out_dir / "previous"),
                            "note": "the three models this network replaced, as their own cards measured them; their "
                                    "LGG validation patients and BRISC validation slices differ from this card's "
                                    "splits, the Kaggle test splits are the same"},
        "run": summary["run"] | {"evaluation_command": "python -m training.evaluate_tumour_net",
                                 "evaluation_wall_time_s": round(time.time() - started, 1)},
    }
    path = write_evaluation(card, out_dir / f"{MODEL_NAME}.json")
    log_to_tracking(card, path, summary.get("tracking_run_id"))
    return card


def earlier_stages(config: dict, folder: Path) -> list[dict]:
    """The stages this network descends from (``config["warm_start"]``, that stage's own seed, ...), oldest first,
    each as its own card measured it, with the command that trains it today (its card keeps the command it was run
    with under the defaults of its day).

    Stage cards are kept in ``weights/previous`` under the stage's run-folder name (``tumour_net_224.json`` for
    ``runs/tumour_net_224/...``); a missing card ends the list, never a made-up record.
    """
    stages = []
    while config.get("warm_start"):
        path = folder / f"{Path(config['warm_start']).parent.name}.json"
        if not path.exists():
            break
        card = json.loads(path.read_text())
        config = card.get("config") or {}
        stages.append({"name": path.stem, "card": f"previous/{path.name}", "image_size": config.get("image_size"),
                       "pooling": config.get("pooling", "gap"), "epochs_run": dig(card, "training", "epochs_run"),
                       "wall_time_s": dig(card, "training", "wall_time_s"),
                       "command": " ".join(["python -m training.train_tumour_net",
                                            *EARLIER_STAGES.get(path.stem, ())]),
                       "recorded_command": dig(card, "run", "command"),
                       "results": network_measures(card)})
    return stages[::-1]


def headline_results(card: dict) -> dict[str, float]:
    """The test numbers the issue's targets name, flat, for the tracking run."""
    results = {}
    for split, summary in card["type"]["test"].items():
        results[f"test.type.{split}.accuracy"] = summary["accuracy"]
        results[f"test.type.{split}.macro_f1"] = summary["macro_f1"]
    for split, summary in card["presence"]["test"].items():
        results[f"test.presence.{split}.sensitivity"] = summary["sensitivity"]
        results[f"test.presence.{split}.specificity"] = summary["specificity"]
    segmentation = card["segmentation"]
    results["val.segmentation.brisc_dice"] = segmentation["brisc_validation"]["dice"]["mean"]
    results["test.segmentation.lgg_per_patient_dice"] = segmentation["lgg_test_patients"]["per_patient_mean_dice"]
    best = next(row for row in card["heatmap"]["candidates"] if row["method"] == card["heatmap"]["default_method"]
                and row["layer"] == card["heatmap"]["default_layer"])
    results["val.heatmap.pointing_game"] = best["pointing_game"]
    return {key: value for key, value in results.items() if value is not None}


def log_to_tracking(card: dict, card_path: Path, run_id: str | None) -> None:
    """Add the final results and the card to the training's MLflow run, and close it."""
    tracker = Tracker(MODEL_NAME)
    tracker.start(run_id)
    tracker.log_metrics(headline_results(card))
    tracker.log_artifact(card_path)
    tracker.finish()


def evaluate_segmentation(val: Outputs, val_present: np.ndarray, tests: dict[str, Outputs], temperature: float,
                          threshold: float, min_component_px: int) -> dict:
    """Dice on BRISC validation (native resolution), LGG per-patient Dice, masks drawn on tumour-free slices."""
    brisc = np.array([s.source == "brisc" for s in val.arrays.slices])
    items = [s for s, keep in zip(val.arrays.slices, brisc, strict=True) if keep]
    dice = native_dice(items, val.mask_probs[brisc], val_present[brisc], min_component_px)
    ungated = native_dice(items, val.mask_probs[brisc], np.ones(len(items), bool), min_component_px)
    result = {"brisc_validation": {"count": len(items), "dice": score_summary(np.nan_to_num(dice, nan=0.0)),
                                   "dice_without_gating": score_summary(np.nan_to_num(ungated, nan=0.0)),
                                   "by_class": grouped_mean(dice, [CLASS_NAMES[s.label] for s in items]),
                                   "by_plane": grouped_mean(dice, [s.group for s in items])}}
    lgg = tests["lgg_test_patients"]
    lgg_scores, _ = presence_scores(lgg, temperature)
    lgg_masks = gated_masks(lgg, lgg_scores >= threshold, min_component_px)
    truth = lgg.arrays.masks[..., 0]
    rows = volume_dice(truth, lgg_masks, [s.group for s in lgg.arrays.slices])
    has_tumour = truth.reshape(len(truth), -1).any(axis=1)
    result["lgg_test_patients"] = {
        "count": len(truth), "patients": len(rows), "per_patient": rows,
        "per_patient_mean_dice": float(np.nanmean([r["dice"] for r in rows])),
        "slice_dice": score_summary(np.nan_to_num(mask_dice(truth[has_tumour], lgg_masks[has_tumour]), nan=0.0))}
    notumor = tests["kaggle_official"]
    free = notumor.arrays.labels == CLASS_NAMES.index("notumor")
    free_scores, _ = presence_scores(notumor, temperature)
    result["false_positive_area"] = {
        "lgg_test_tumour_free": any_mask_share(lgg_masks[~has_tumour]),
        "kaggle_notumor_test": any_mask_share(gated_masks(notumor, free_scores >= threshold,
                                                          min_component_px)[free]),
    }
    return result


def data_section(splits: TumourSplits, summary: dict) -> dict:
    return {
        "root": "brain-tumor-mri-4class",
        "roots": {"kaggle": "brain-tumor-mri-4class", "brisc": "brisc2025-seg", "lgg": "lgg-kaggle_3m"},
        "paths": "relative to the shared data folder (../shared/data)",
        "sources": {"kaggle": "Kaggle Brain Tumor MRI Dataset (M. Nickparvar), CC0: type labels",
                    "brisc": "BRISC 2025 train masks (CC BY 4.0) on Kaggle Training images",
                    "lgg": "LGG kaggle_3m FLAIR, Buda et al. 2019 (CC BY-NC-SA 4.0 as reported): tumour slices as "
                           "glioma, empty slices as no tumour, masks for both"},
        "split": "Kaggle Training: stratified validation by content (copies kept on one side), BRISC masks follow "
                 "their images; LGG: 70 / 15 / 15 % of patients for train / validation / test; Kaggle Testing and "
                 "LGG test patients never used for any choice",
        "counts": {"train": summary["counts"]["train"], "val": summary["counts"]["val"],
                   "test": len(splits.kaggle_test), "test_deduplicated": len(splits.kaggle_test_deduplicated),
                   "lgg_test_slices": len(splits.lgg_test),
                   "lgg_test_patients": len({s.group for s in splits.lgg_test})},
        "test_duplicates_of_training": splits.kaggle_test_duplicates,
        "seed": summary["config"]["seed"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR / f"{MODEL_NAME}.keras")
    parser.add_argument("--run-dir", type=Path, default=RUNS_DIR / MODEL_NAME)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--heatmap-slices", type=int, default=120)
    args = parser.parse_args(argv)
    card = evaluate_tumour_net(args.weights, args.run_dir, args.out, args.heatmap_slices)
    official = card["type"]["test"]["kaggle_official"]
    presence = card["presence"]["test"]["kaggle_official"]
    print(f"type accuracy {official['accuracy']:.4f}, presence sensitivity {presence['sensitivity']:.4f} "
          f"specificity {presence['specificity']:.4f}, BRISC val Dice "
          f"{card['segmentation']['brisc_validation']['dice']['mean']:.4f}")


if __name__ == "__main__":
    main()
