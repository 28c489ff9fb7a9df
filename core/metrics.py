"""Metrics shared by evaluation scripts and the app: classification summaries, calibration, Dice and IoU."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import auc, confusion_matrix, precision_recall_fscore_support, roc_curve


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` in float64 for stability."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood on held-out data (Guo et al., ICML 2017)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        probs = softmax(logits, float(np.exp(log_t)))
        return float(-np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-12)))

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
    fpr, tpr, thresholds = roc_curve(positives, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).astype(int))
    return {"fpr": fpr[keep].round(5).tolist(), "tpr": tpr[keep].round(5).tolist(),
            "thresholds": np.nan_to_num(thresholds[keep], posinf=1.0).round(5).tolist(),
            "auc": float(auc(fpr, tpr))}


def classification_summary(probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix, one-vs-rest ROC, calibration."""
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
