"""Metrics shared by evaluation scripts and the app: classification summaries, calibration, Dice and IoU.

The summaries import scikit-learn where they use it: an analysis needs only softmax and Dice, and importing
scikit-learn would add about 1.5 s to every command-line start.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64 for stability."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise log-softmax of ``logits / temperature``, exact even where a probability underflows to 0."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood on held-out data (Guo et al., ICML 2017).

    The likelihood is taken from the logits (log-softmax), not from log(p + eps) of rounded probabilities, whose
    floor would cap the penalty of confidently wrong slices and bias T.
    """
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        return float(-np.mean(log_softmax(logits, float(np.exp(log_t)))[rows, labels]))

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict:
    """Confidence histogram for a reliability diagram, and the expected calibration error (ECE, in [0, 1]).

    ECE weights each bin's |accuracy - confidence| gap by its share of samples (Naeini et al., AAAI 2015).
    """
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        members = which == b
        count = int(members.sum())
        acc = float(correct[members].mean()) if count else None
        conf = float(confidence[members].mean()) if count else None
        if count:
            ece += count / len(labels) * abs(acc - conf)
        bins.append({"lower": float(edges[b]), "upper": float(edges[b + 1]), "count": count,
                     "accuracy": acc, "confidence": conf})
    return {"bins": bins, "ece": float(ece)}


def roc_points(scores: np.ndarray, positives: np.ndarray, max_points: int = 200) -> dict:
    """ROC curve thinned to at most ``max_points`` points (keeping both ends), with its AUC."""
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, thresholds = roc_curve(positives, scores)
    thin_fpr, thin_tpr, thin_thresholds = _thin([fpr, tpr, thresholds], max_points)
    return {"fpr": thin_fpr, "tpr": thin_tpr, "thresholds": thin_thresholds, "auc": float(auc(fpr, tpr))}


def classification_summary(probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix, one-vs-rest ROC, calibration."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    predicted = probs.argmax(axis=1)
    classes = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    per_class = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
               "support": int(support[i])}
        for i, name in enumerate(class_names)
    }
    roc = {name: roc_points(probs[:, i], labels == i) for i, name in enumerate(class_names) if 0 < (labels == i).sum()}
    return {
        "count": len(labels),
        "accuracy": float((predicted == labels).mean()),
        "macro_f1": float(np.mean(f1)),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
        "roc": roc,
        "calibration": reliability_bins(probs, labels),
    }


def threshold_for_sensitivity(scores: np.ndarray, positives: np.ndarray, sensitivity: float) -> float:
    """The highest threshold whose sensitivity (recall of positives) is still at least ``sensitivity``."""
    positive_scores = np.sort(np.asarray(scores)[np.asarray(positives, dtype=bool)])
    # ceil with a small tolerance so that e.g. 0.9 * 100 counts as 90 despite floating-point rounding.
    needed = int(np.ceil(sensitivity * len(positive_scores) - 1e-9))
    return float(positive_scores[len(positive_scores) - needed])


def _thin(arrays: list[np.ndarray], max_points: int) -> list[list[float]]:
    keep = np.unique(np.linspace(0, len(arrays[0]) - 1, min(max_points, len(arrays[0]))).astype(int))
    return [np.nan_to_num(a[keep], posinf=1.0).round(5).tolist() for a in arrays]


def binary_summary(scores: np.ndarray, positives: np.ndarray, threshold: float, max_points: int = 200) -> dict:
    """ROC and precision-recall curves, AUC, and sensitivity/specificity at ``threshold`` for a binary detector."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    positives = np.asarray(positives, dtype=bool)
    decided = np.asarray(scores) >= threshold
    tp, fn = int((decided & positives).sum()), int((~decided & positives).sum())
    tn, fp = int((~decided & ~positives).sum()), int((decided & ~positives).sum())
    precision, recall, pr_thresholds = precision_recall_curve(positives, scores)
    pr = _thin([precision[:-1], recall[:-1], pr_thresholds], max_points)
    return {
        "count": len(positives),
        "positives": int(positives.sum()),
        "auc": roc_points(scores, positives, max_points)["auc"],
        "roc": roc_points(scores, positives, max_points),
        "pr": {"precision": pr[0], "recall": pr[1], "thresholds": pr[2],
               "average_precision": float(average_precision_score(positives, scores))},
        "threshold": float(threshold),
        "sensitivity": tp / (tp + fn) if tp + fn else None,
        "specificity": tn / (tn + fp) if tn + fp else None,
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def dice_score(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Dice overlap of two binary masks in [0, 1].

    NaN when both masks are empty, so empty slices do not inflate a mean (use ``np.nanmean``).
    """
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    total = int(truth.sum()) + int(predicted.sum())
    if total == 0:
        return float("nan")
    return 2.0 * int((truth & predicted).sum()) / total


def iou_score(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Intersection over union of two binary masks; NaN when both are empty (as :func:`dice_score`)."""
    truth, predicted = truth.astype(bool), predicted.astype(bool)
    union = int((truth | predicted).sum())
    if union == 0:
        return float("nan")
    return int((truth & predicted).sum()) / union
