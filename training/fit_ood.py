"""Fit the out-of-distribution guard on the shipped tumour network, measure it, write weights/ood.npz and ood.json.

    python -m training.fit_ood [--percentile 98]

Distances: the network's embedding of Kaggle training slices (one cluster per class) plus LGG FLAIR slices of the
network's training patients (a fifth cluster), and a PCA auto-encoder of their thumbnails. Outlier-exposure head:
those brains, half the images of each development source of ``brain-mri-other`` and the development sources of
``non-brain-dev`` plus the generated images of :mod:`training.ood_images` (:mod:`training.guard_sources` fixes which
sources are held out). Candidates, side by side: the distances alone, and the head at two regularisation strengths;
the one that flags most development non-brain images when each source is left out of the fit is shipped. Threshold:
the highest 98th percentile of brain validation scores over Kaggle validation, LGG validation patients and the other
half of each development brain source. Measured on the held-out sources, the Kaggle test split and the LGG test
patients, which choose nothing. No network is trained; this takes a few minutes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from core.io.read import read_scan
from core.models import ood
from core.models.cards import TUMOUR_NET, WEIGHTS_DIR
from core.models.metrics import roc_points
from core.models.preprocess import preprocess_slice
from core.models.registry import LoadedModel, load_model
from training.common import add_config_arguments, cli_overrides, config_from_args, run_metadata
from training.data import DEFAULT_ROOT
from training.guard_sources import BRAIN, GuardImage, list_brain_other, list_non_brain
from training.ood_images import OodImage, make_ood_images
from training.tumour_data import BRISC_ROOT, LGG_ROOT, load_slices, make_splits

NON_BRAIN = "non_brain"
DISTANCES = "distances alone"
REGULARISATIONS = (0.1, 1.0)
"""Inverse L2 strengths ``C`` of the head's candidates."""
HEAD_BRAINS = 2000
"""Kaggle and LGG training slices the head learns brains from (a random subset: the distances use them all)."""
GROUP_WEIGHTS = {"brain": 0.35, "other_brain": 0.15, "non_brain": 0.35, "generated": 0.15}
"""Each training group's share of the head's sample weight: brains and outliers count alike, real images most."""
DOCUMENT_CATEGORIES = ("document", "chart")
"""Generated categories (:mod:`training.ood_images`) that count as documents; the others as photographs."""
OPERATING_PERCENTILES = (95.0, 97.0, 98.0, 99.0, 99.5)


@dataclass(frozen=True)
class OodConfig:
    percentile: float = ood.TERM_PERCENTILE
    seed: int = 42
    ood_seed: int = 0


@dataclass(frozen=True)
class ImageSet:
    """Preprocessed inputs (N x S x S x C) with each one's kind, family and source."""

    x: np.ndarray
    kinds: np.ndarray
    families: np.ndarray
    sources: np.ndarray

    def where(self, keep: np.ndarray) -> ImageSet:
        return ImageSet(self.x[keep], self.kinds[keep], self.families[keep], self.sources[keep])


@dataclass(frozen=True)
class GuardData:
    """Everything the guard is fitted, thresholded and measured on.

    Attributes:
        fit, clusters, cluster_names: brain slices of the distance statistics and each one's cluster.
        head_brains: the subset of ``fit`` the head learns brains from.
        other_brain: development brain sources of ``brain-mri-other``: ``fit`` half for the head, ``threshold`` half.
        threshold: brain validation slices by source; the threshold keeps each one's false flags in bounds.
        brain_test: brain slices that choose nothing, by set (Kaggle test, LGG test patients, held-out sources).
        non_brain_dev, generated: outliers the head learns from.
        non_brain_test: outliers from held-out sources, measured only.
    """

    fit: np.ndarray
    clusters: np.ndarray
    cluster_names: list[str]
    head_brains: np.ndarray
    other_brain_fit: ImageSet
    threshold: dict[str, np.ndarray]
    brain_test: dict[str, np.ndarray]
    non_brain_dev: ImageSet
    generated: ImageSet
    non_brain_test: ImageSet


def read_images(images: Sequence[GuardImage], classifier: LoadedModel) -> ImageSet:
    """Files read exactly like uploads (every development file opens, see the datasets' READMEs)."""
    x = np.stack([preprocess_slice(read_scan(image.path.read_bytes(), image.path.name).pixels, classifier.spec)
                  for image in images])
    return ImageSet(x, *(np.array([getattr(i, key) for i in images]) for key in ("kind", "family", "source")))


def preprocess_uploads(images: Sequence[OodImage], classifier: LoadedModel) -> np.ndarray:
    """N x S x S x C model input of encoded images, read exactly like uploads."""
    return np.stack([preprocess_slice(read_scan(image.data, image.name).pixels, classifier.spec) for image in images])


def generated_set(images: Sequence[OodImage], classifier: LoadedModel) -> ImageSet:
    families = ["document" if image.category in DOCUMENT_CATEGORIES else "photo_or_microscopy" for image in images]
    kinds = [f"generated {image.category}" for image in images]
    return ImageSet(preprocess_uploads(images, classifier), np.array(kinds), np.array(families),
                    np.array(["training/ood_images.py"] * len(images)))


def load_guard_data(classifier: LoadedModel, config: OodConfig, kaggle_root: Path, lgg_root: Path) -> GuardData:
    """The network's own splits (arrays cached by training) and the two development sets, split by source."""
    spec = classifier.spec
    splits = make_splits(kaggle_root, BRISC_ROOT, lgg_root, seed=config.seed)
    train, val = load_slices(splits.train, spec), load_slices(splits.val, spec)
    train_lgg = np.array([s.source == "lgg" for s in train.slices])
    val_lgg = np.array([s.source == "lgg" for s in val.slices])
    fit = np.concatenate([train.x[~train_lgg], train.x[train_lgg]])
    clusters = np.concatenate([train.labels[~train_lgg], np.full(int(train_lgg.sum()), len(classifier.class_names))])
    rng = np.random.default_rng(config.seed)
    head_brains = fit[np.sort(rng.choice(len(fit), min(HEAD_BRAINS, len(fit)), replace=False))]
    listed = list_brain_other(lgg_test_patients=frozenset(s.group for s in splits.lgg_test))
    other, held_out = read_images(listed, classifier), np.array([image.held_out for image in listed])
    halves = np.arange(len(other.x)) % 2 == 0
    threshold = {"kaggle_validation": val.x[~val_lgg], "lgg_validation_patients": val.x[val_lgg]}
    for source in sorted(set(other.sources[~held_out])):
        threshold[f"{source} (other half)"] = other.x[~held_out & ~halves & (other.sources == source)]
    brain_test = {"kaggle_test_official": load_slices(splits.kaggle_test, spec).x,
                  "kaggle_test_deduplicated": load_slices(splits.kaggle_test_deduplicated, spec).x,
                  "lgg_test_patients": load_slices(splits.lgg_test, spec).x}
    for kind in sorted(set(other.kinds[held_out])):
        brain_test[kind] = other.x[held_out & (other.kinds == kind)]
    non_brain = list_non_brain()
    images = read_images(non_brain, classifier)
    test = np.array([image.held_out for image in non_brain])
    return GuardData(fit, clusters, [*classifier.class_names, "lgg_flair"], head_brains,
                     other.where(~held_out & halves), threshold, brain_test, images.where(~test),
                     generated_set(make_ood_images(config.ood_seed), classifier), images.where(test))


def flag_summary(scores: np.ndarray, threshold: float) -> dict:
    """Count and share of flagged inputs, with score percentiles (so a reader sees the margin to the threshold)."""
    flagged = scores > threshold
    return {"count": len(scores), "flagged": int(flagged.sum()), "flag_rate": float(flagged.mean()),
            "score_percentiles": {str(p): float(np.percentile(scores, p)) for p in (5, 50, 95, 99)}}


def operating_points(reference: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray],
                     percentiles: Sequence[float] = OPERATING_PERCENTILES) -> list[dict]:
    """Flag rate of every set had the threshold rule used another percentile of the ``reference`` (validation)
    scores, so the rule can be changed knowingly without refitting."""
    points = []
    for percentile in percentiles:
        threshold, _ = ood.source_threshold(reference, percentile)
        points.append({"percentile": percentile, "threshold": threshold,
                       **{name: float((values > threshold).mean()) for name, values in scores.items()}})
    return points


@dataclass(frozen=True)
class Features:
    """Head inputs (:func:`core.models.ood.guard_features`) of every set of :class:`GuardData`."""

    head_brains: np.ndarray
    other_brain_fit: np.ndarray
    threshold: dict[str, np.ndarray]
    brain_test: dict[str, np.ndarray]
    non_brain_dev: np.ndarray
    generated: np.ndarray
    non_brain_test: np.ndarray


def compute_features(data: GuardData, classifier: LoadedModel, detector: ood.OodDetector) -> Features:
    def f(batch: np.ndarray) -> np.ndarray:
        return ood.guard_features(batch, classifier, detector)

    return Features(f(data.head_brains), f(data.other_brain_fit.x), {k: f(v) for k, v in data.threshold.items()},
                    {k: f(v) for k, v in data.brain_test.items()}, f(data.non_brain_dev.x), f(data.generated.x),
                    f(data.non_brain_test.x))


def train_head(data: GuardData, features: Features, regularisation: float,
               leave_out: np.ndarray | None = None) -> ood.OutlierHead:
    """The head on every training group; ``leave_out`` drops those development non-brain rows."""
    keep = np.ones(len(features.non_brain_dev), bool) if leave_out is None else ~leave_out
    groups = {"brain": (features.head_brains, [BRAIN] * len(features.head_brains)),
              "other_brain": (features.other_brain_fit, [BRAIN] * len(features.other_brain_fit)),
              "non_brain": (features.non_brain_dev[keep], data.non_brain_dev.families[keep]),
              "generated": (features.generated, data.generated.families)}
    return ood.fit_head([x for x, _ in groups.values()], [c for _, c in groups.values()],
                        [GROUP_WEIGHTS[name] for name in groups], regularisation)


def distance_scores(detector: ood.OodDetector, rows: np.ndarray) -> np.ndarray:
    """The distances-alone score from head inputs (their last two columns are the log-distances)."""
    return ood.combine_terms(np.exp(rows[:, -len(ood.TERMS):]), detector.scales_)


def left_out_flag_rate(data: GuardData, features: Features, regularisation: float, percentile: float) -> float:
    """Share of development non-brain images flagged by a head fitted without their source (leave-one-source-out),
    each head at its own threshold: how well the candidate generalises to a source it never saw."""
    flagged = np.zeros(len(features.non_brain_dev), bool)
    for source in sorted(set(data.non_brain_dev.sources)):
        rows = data.non_brain_dev.sources == source
        head = train_head(data, features, regularisation, leave_out=rows)
        threshold, _ = ood.source_threshold({k: head.log_odds(v) for k, v in features.threshold.items()}, percentile)
        flagged[rows] = head.log_odds(features.non_brain_dev[rows]) > threshold
    return float(flagged.mean())


def measure(score: Callable[[np.ndarray], np.ndarray], threshold: float, data: GuardData, features: Features,
            head: ood.OutlierHead | None) -> dict:
    """False flags per brain set, flags per held-out non-brain kind and family, ROC AUC of each brain set against
    the held-out non-brain images, and (with a head) how often a flagged image's family is named right."""
    test = data.non_brain_test
    outliers = score(features.non_brain_test)
    results = {"brain_false_flags": {}, "roc_auc_against_non_brain": {}}
    for name, rows in {**features.threshold, **features.brain_test}.items():
        values = score(rows)
        results["brain_false_flags"][name] = flag_summary(values, threshold)
        truth = np.r_[np.zeros(len(values)), np.ones(len(outliers))]
        results["roc_auc_against_non_brain"][name] = roc_points(np.r_[values, outliers], truth)["auc"]
    results[NON_BRAIN] = flag_summary(outliers, threshold)
    for key, labels in (("by_kind", test.kinds), ("by_family", test.families)):
        results[NON_BRAIN][key] = {label: flag_summary(outliers[labels == label], threshold)
                                   for label in sorted(set(labels))}
    if head is not None:
        flagged = outliers > threshold
        named = np.array(head.looks_like(features.non_brain_test), dtype=object)[flagged]
        results[NON_BRAIN]["family_named"] = {
            "flagged": int(flagged.sum()), "named": sum(family is not None for family in named),
            "named_right": int((named == test.families[flagged]).sum())}
    return results


def fit_and_evaluate(classifier: LoadedModel, data: GuardData, config: OodConfig) -> ood.OodDetector:
    """Fit the distances, compare the candidates on development data, ship the best and measure every one."""
    card = {
        "task": "out-of-distribution guard: flags uploads that are not 2D brain MRI slices",
        "name": ood.NAME,
        "method": {
            "score": "log-odds of 'not a brain MRI' from the outlier-exposure head (a multinomial logistic "
                     "regression over the embedding and both log-distances, classes: brain MRI and six non-brain "
                     "families); the 'distances alone' candidate scores max over terms of (term / its 98th "
                     "validation percentile)",
            "terms": {
                "embedding_mahalanobis": "Mahalanobis distance of the pooled features the type head classifies to "
                                         "the nearest cluster mean, shared Ledoit-Wolf covariance (Lee et al. 2018)",
                "thumbnail_reconstruction_error": f"RMS residual of a {ood.THUMBNAIL_SIZE} x {ood.THUMBNAIL_SIZE} "
                                                  "thumbnail after projection on its principal components "
                                                  "(a linear autoencoder)"},
            "threshold_rule": f"the highest {config.percentile:g}th percentile of brain validation scores over "
                              "Kaggle validation, LGG validation patients and the threshold half of every "
                              "development brain-mri-other source (at most "
                              f"{100 - config.percentile:g} % of any of them flagged)",
            "selection": "the candidate flagging most development non-brain images when each source is left out of "
                         "the head's fit (each left-out head at its own threshold); held-out sources choose nothing",
            "family_rule": f"the warning names the non-brain family holding >= {ood.FAMILY_SHARE:g} of the head's "
                           "non-brain probability",
        },
        "model": {"name": TUMOUR_NET, "input": classifier.card["input"], "class_names": classifier.class_names},
        "clusters": data.cluster_names,
        "config": asdict(config),
        "data": {
            "fit": "Kaggle Training split (train part) by class + LGG kaggle_3m FLAIR slices of the network's "
                   "training patients",
            "head": f"{len(data.head_brains)} of those brain slices, half the images of each development source "
                    "of brain-mri-other, the development sources of non-brain-dev and the generated images of "
                    "training/ood_images.py",
            "held_out_sources": {
                "non_brain": sorted(set(data.non_brain_test.sources)),
                "brain": sorted(name for name in data.brain_test if "/" in name)},
            "development_sources": {"non_brain": sorted(set(data.non_brain_dev.sources)),
                                    "brain": sorted(set(data.other_brain_fit.sources))},
            "counts": {"fit": len(data.fit), "head_brains": len(data.head_brains),
                       "other_brain_fit": len(data.other_brain_fit.x), "non_brain_dev": len(data.non_brain_dev.x),
                       "generated": len(data.generated.x), "non_brain_test": len(data.non_brain_test.x),
                       **{name: len(batch) for name, batch in {**data.threshold, **data.brain_test}.items()}},
        },
    }
    distances = ood.fit_detector(data.fit, data.clusters, data.threshold["kaggle_validation"], classifier,
                                 config.percentile, card)
    features = compute_features(data, classifier, distances)
    candidates = {DISTANCES: (lambda rows: distance_scores(distances, rows), None)}
    heads = {f"head, C = {c:g}": c for c in REGULARISATIONS}
    for name, c in heads.items():
        head = train_head(data, features, c)
        candidates[name] = (head.log_odds, head)
    compared, chosen = {}, None
    for name, (score, head) in candidates.items():
        threshold, _ = ood.source_threshold({k: score(v) for k, v in features.threshold.items()}, config.percentile)
        development = float((score(features.non_brain_dev) > threshold).mean()) if head is None else \
            left_out_flag_rate(data, features, heads[name], config.percentile)
        results = measure(score, threshold, data, features, head)
        compared[name] = {"threshold": threshold, "development_flag_rate": development, "results": results}
        if chosen is None or development > compared[chosen]["development_flag_rate"]:
            chosen = name
    score, head = candidates[chosen]
    reference = {k: score(v) for k, v in features.threshold.items()}
    threshold, by_source = ood.source_threshold(reference, config.percentile)
    tests = {**{k: score(v) for k, v in features.brain_test.items()}, NON_BRAIN: score(features.non_brain_test)}
    fitted = {**distances.card, "candidate": chosen, "threshold": threshold, "candidates": compared,
              "threshold_by_source": by_source,
              "results": {**compared[chosen]["results"], "operating_points": operating_points(reference, tests)}}
    if head is not None:
        fitted["head"] = {"families": list(head.families), "features": int(head.feature_mean.shape[0])}
    return replace(distances, head_=head, threshold_=threshold, card=fitted)


def fit_ood(config: OodConfig, weights: Path = WEIGHTS_DIR, kaggle_root: Path = DEFAULT_ROOT,
            lgg_root: Path = LGG_ROOT) -> dict:
    """Fit, measure and save the guard for ``weights/tumour_net.keras``; returns its card."""
    started = time.time()
    classifier = load_model(TUMOUR_NET, weights)
    detector = fit_and_evaluate(classifier, load_guard_data(classifier, config, kaggle_root, lgg_root), config)
    detector.card["run"] = run_metadata(["training.fit_ood", *cli_overrides(config)], time.time() - started)
    print(f"wrote {ood.save_detector(detector, weights)}")
    return detector.card


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--kaggle", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--lgg", type=Path, default=LGG_ROOT)
    add_config_arguments(parser, OodConfig)
    args = parser.parse_args(argv)
    card = fit_ood(config_from_args(args, OodConfig()), args.weights, args.kaggle, args.lgg)
    for name, entry in card["candidates"].items():
        results = entry["results"]
        print(f"{name}: development {entry['development_flag_rate']:.1%}, held-out non-brain "
              f"{results[NON_BRAIN]['flag_rate']:.1%}")
    results = card["results"]
    print(f"shipped: {card['candidate']}, threshold {card['threshold']:.3f}")
    for name, summary in results["brain_false_flags"].items():
        print(f"  {name}: {summary['flag_rate']:.1%} of {summary['count']} brain slices flagged")
    for kind, summary in results[NON_BRAIN]["by_kind"].items():
        print(f"  {kind}: {summary['flagged']}/{summary['count']} flagged")


if __name__ == "__main__":
    main()
