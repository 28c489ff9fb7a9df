"""Fit the out-of-distribution guard on the shipped tumour network, measure it, write weights/ood.npz and ood.json.

    python -m training.fit_ood [--percentile 98] [--include-lgg true]

Statistics: the network's embedding of Kaggle training slices (one cluster per class) plus, with
``--include-lgg``, LGG FLAIR slices of the network's training patients (a fifth cluster), so FLAIR uploads are not
flagged for being FLAIR. Threshold: the ``percentile``-th percentile of Kaggle validation scores (98 allows 2 % false
flags). Measured on the official Kaggle test split (and without its copies of training images), LGG validation
patients, and the non-brain images of :mod:`training.ood_images`. No network is trained (only means, a covariance
and principal components are fitted); this takes a few minutes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core import ood
from core.cards import TUMOUR_NET, WEIGHTS_DIR
from core.io import read_scan
from core.metrics import roc_points
from core.preprocess import preprocess_slice
from core.registry import LoadedModel, load_model
from training.common import add_config_arguments, cli_overrides, config_from_args, run_metadata
from training.data import DEFAULT_ROOT
from training.ood_images import OodImage, make_ood_images
from training.tumour_data import BRISC_ROOT, LGG_ROOT, load_slices, make_splits

NON_BRAIN = "non_brain"
OPERATING_PERCENTILES = (95.0, 97.0, 98.0, 99.0, 99.5)


@dataclass(frozen=True)
class OodConfig:
    percentile: float = ood.TERM_PERCENTILE
    include_lgg: bool = True
    seed: int = 42
    ood_seed: int = 0


@dataclass(frozen=True)
class BrainSlices:
    """Preprocessed brain slices (N x S x S x C) for fitting, thresholding and measuring the detector.

    Attributes:
        fit: slices the statistics are fitted on; ``clusters`` gives each one's cluster index.
        threshold: slices the threshold is set on.
        evaluate: further brain sets to report false-flag rates on, by name.
        cluster_names: name of each cluster index.
    """

    fit: np.ndarray
    clusters: np.ndarray
    threshold: np.ndarray
    evaluate: dict[str, np.ndarray]
    cluster_names: list[str]


def load_brain_slices(classifier: LoadedModel, config: OodConfig, kaggle_root: Path, lgg_root: Path) -> BrainSlices:
    """The network's own splits (:func:`training.tumour_data.make_splits`, arrays cached by training): Kaggle
    train/validation/test and, optionally, LGG slices of its training patients as a fifth cluster."""
    spec = classifier.spec
    splits = make_splits(kaggle_root, BRISC_ROOT, lgg_root, seed=config.seed)
    # Whole splits, as training cached them: one cache hit each instead of re-decoding per source.
    train, val = load_slices(splits.train, spec), load_slices(splits.val, spec)
    train_lgg = np.array([s.source == "lgg" for s in train.slices])
    val_lgg = np.array([s.source == "lgg" for s in val.slices])
    x_train, y_train = train.x[~train_lgg], train.labels[~train_lgg]
    x_val = val.x[~val_lgg]
    evaluate = {"kaggle_validation": x_val, "kaggle_test_official": load_slices(splits.kaggle_test, spec).x,
                "kaggle_test_deduplicated": load_slices(splits.kaggle_test_deduplicated, spec).x}
    names = list(classifier.class_names)
    if config.include_lgg:
        x_lgg = train.x[train_lgg]
        evaluate["lgg_validation_patients"] = val.x[val_lgg]
        x_train = np.concatenate([x_train, x_lgg])
        y_train = np.concatenate([y_train, np.full(len(x_lgg), len(names))])
        names.append("lgg_flair")
    return BrainSlices(x_train, y_train, x_val, evaluate, names)


def preprocess_uploads(images: Sequence[OodImage], classifier: LoadedModel) -> np.ndarray:
    """N x S x S x C model input of encoded images, read exactly like uploads."""
    return np.stack([preprocess_slice(read_scan(image.data, image.name).pixels, classifier.spec) for image in images])


def flag_summary(scores: np.ndarray, detector: ood.OodDetector) -> dict:
    """Count and share of flagged inputs, with score percentiles (so a reader sees the margin to the threshold)."""
    flagged = scores > detector.threshold_
    return {"count": len(scores), "flagged": int(flagged.sum()), "flag_rate": float(flagged.mean()),
            "score_percentiles": {str(p): float(np.percentile(scores, p)) for p in (5, 50, 95, 99)}}


def operating_points(reference: np.ndarray, scores: Mapping[str, np.ndarray],
                     percentiles: Sequence[float] = OPERATING_PERCENTILES) -> list[dict]:
    """Flag rate of every set had the threshold been another percentile of the ``reference`` (validation) scores,
    so the threshold rule can be changed knowingly without refitting."""
    points = []
    for percentile in percentiles:
        threshold = float(np.percentile(reference, percentile, method="higher"))
        points.append({"percentile": percentile, "threshold": threshold,
                       **{name: float((values > threshold).mean()) for name, values in scores.items()}})
    return points


def evaluate_detector(detector: ood.OodDetector, classifier: LoadedModel, brain: Mapping[str, np.ndarray],
                      non_brain: np.ndarray, categories: Sequence[str], reference: np.ndarray) -> dict:
    """False-flag rates on brain sets, flag rates on the non-brain set overall and per category, the ROC AUC of each
    brain set against the non-brain set (for the combined score and each term alone), and the flag rates at other
    percentiles of the ``reference`` (validation) scores."""
    batches = {**brain, NON_BRAIN: non_brain}
    terms = {name: ood.score_terms(batch, classifier, detector) for name, batch in batches.items()}
    scores = {name: ood.combine_terms(values, detector.scales_) for name, values in terms.items()}
    categories = np.asarray(categories)
    results = {"brain_false_flags": {}, "roc_auc_against_non_brain": {}}
    for name in brain:
        results["brain_false_flags"][name] = flag_summary(scores[name], detector)
        positives = np.r_[np.zeros(len(scores[name])), np.ones(len(non_brain))]
        results["roc_auc_against_non_brain"][name] = {
            "combined": roc_points(np.r_[scores[name], scores[NON_BRAIN]], positives)["auc"],
            **{term: roc_points(np.r_[terms[name][:, i], terms[NON_BRAIN][:, i]], positives)["auc"]
               for i, term in enumerate(ood.TERMS)}}
    results[NON_BRAIN] = flag_summary(scores[NON_BRAIN], detector)
    results[NON_BRAIN]["by_category"] = {
        category: flag_summary(scores[NON_BRAIN][categories == category], detector)
        for category in sorted(set(categories))}
    flagged_by = terms[NON_BRAIN] / detector.scales_ > detector.threshold_
    results[NON_BRAIN]["flagged_by_term"] = {term: int(flagged_by[:, i].sum()) for i, term in enumerate(ood.TERMS)}
    results["operating_points"] = operating_points(reference, scores)
    return results


def fit_ood(config: OodConfig, weights: Path = WEIGHTS_DIR, kaggle_root: Path = DEFAULT_ROOT,
            lgg_root: Path = LGG_ROOT) -> dict:
    """Fit, measure and save the detector for ``weights/tumour_net.keras``; returns its card."""
    started = time.time()
    classifier = load_model(TUMOUR_NET, weights)
    brain = load_brain_slices(classifier, config, kaggle_root, lgg_root)
    images = make_ood_images(config.ood_seed)
    detector = fit_and_evaluate(classifier, brain, images, config)
    detector.card["run"] = run_metadata(["training.fit_ood", *cli_overrides(config)], time.time() - started)
    print(f"wrote {ood.save_detector(detector, weights)}")
    return detector.card


def fit_and_evaluate(classifier: LoadedModel, brain: BrainSlices, images: Sequence[OodImage],
                     config: OodConfig) -> ood.OodDetector:
    """Fit on ``brain.fit``, threshold on ``brain.threshold``, and measure on every brain set and ``images``."""
    card = {
        "task": "out-of-distribution guard: flags uploads that are not 2D brain MRI slices",
        "name": ood.NAME,
        "method": {
            "score": "max over terms of (term / its validation percentile)",
            "terms": {
                "embedding_mahalanobis": "Mahalanobis distance of the pooled features the type head classifies to "
                                         "the nearest cluster mean, shared Ledoit-Wolf covariance (Lee et al. 2018)",
                "thumbnail_reconstruction_error": f"RMS residual of a {ood.THUMBNAIL_SIZE} x {ood.THUMBNAIL_SIZE} "
                                                  "thumbnail after projection on its principal components "
                                                  "(a linear autoencoder)"},
            "threshold_rule": f"{config.percentile:g}th percentile of Kaggle validation scores "
                              f"(at most {100 - config.percentile:g} % of validation slices flagged)",
            "colour": "not used: uploads are converted to grayscale on reading, and grayscale photos must be caught "
                      "anyway",
            "development": "terms, combination and threshold rule were chosen on an intermediate checkpoint of an "
                           "earlier classifier's training run, before any shipped model existed",
        },
        "model": {"name": TUMOUR_NET, "input": classifier.card["input"], "class_names": classifier.class_names},
        "clusters": brain.cluster_names,
        "config": asdict(config),
        "data": {
            "fit": "Kaggle Training split (train part) by class"
                   + (" + LGG kaggle_3m FLAIR slices of the network's training patients" if config.include_lgg
                      else ""),
            "threshold": "Kaggle Training split (validation part)",
            NON_BRAIN: "generated in memory by training/ood_images.py: scikit-image, scikit-learn and matplotlib "
                       "sample images (with grayscale, cropped and rotated versions) and generated noise, gradients, "
                       "patterns, shapes, text pages and charts. No real chest X-ray, CT or knee image was available "
                       "offline, so these were not tested; the nearest is the Shepp-Logan CT head phantom.",
            "counts": {"fit": len(brain.fit), "threshold": len(brain.threshold), NON_BRAIN: len(images),
                       **{name: len(batch) for name, batch in brain.evaluate.items()}},
        },
    }
    detector = ood.fit_detector(brain.fit, brain.clusters, brain.threshold, classifier, config.percentile, card)
    non_brain = preprocess_uploads(images, classifier)
    reference = ood.ood_scores(brain.threshold, classifier, detector)
    detector.card["results"] = evaluate_detector(detector, classifier, brain.evaluate, non_brain,
                                                 [image.category for image in images], reference)
    return detector


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--kaggle", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--lgg", type=Path, default=LGG_ROOT)
    add_config_arguments(parser, OodConfig)
    args = parser.parse_args(argv)
    card = fit_ood(config_from_args(args, OodConfig()), args.weights, args.kaggle, args.lgg)
    results = card["results"]
    for name, summary in results["brain_false_flags"].items():
        print(f"{name}: {summary['flag_rate']:.1%} flagged of {summary['count']}")
    print(f"non-brain: {results[NON_BRAIN]['flag_rate']:.1%} flagged of {results[NON_BRAIN]['count']}")
    for category, summary in results[NON_BRAIN]["by_category"].items():
        print(f"  {category}: {summary['flagged']}/{summary['count']}")
    for point in results["operating_points"]:
        rates = ", ".join(f"{name} {rate:.1%}" for name, rate in list(point.items())[2:])
        print(f"at the {point['percentile']:g}th validation percentile: {rates}")


if __name__ == "__main__":
    main()
