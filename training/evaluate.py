"""Evaluate trained models on held-out data and shape the results for their JSON cards."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from core.metrics import classification_summary, reliability_bins, softmax
from core.preprocess import InputSpec
from training.common import predict_logits
from training.data import KaggleSplits, Sample, load_arrays


def evaluate_classifier(model: keras.Model, temperature: float, samples: Sequence[Sample], spec: InputSpec,
                        class_names: Sequence[str]) -> dict:
    """Classification summary on calibrated probabilities, ECE before calibration, and every misclassified file."""
    x, y = load_arrays(samples, spec)
    logits = predict_logits(model, x)
    probs = softmax(logits, temperature)
    summary = classification_summary(probs, y, class_names)
    summary["ece_uncalibrated"] = reliability_bins(softmax(logits), y)["ece"]
    predicted = probs.argmax(axis=1)
    summary["misclassified"] = [
        {"file": samples[i].path, "true": class_names[y[i]], "predicted": class_names[predicted[i]],
         "probability": float(probs[i, predicted[i]])}
        for i in np.flatnonzero(predicted != y)
    ]
    return summary


def evaluate_classifier_on_tests(model: keras.Model, temperature: float, splits: KaggleSplits, spec: InputSpec,
                                 class_names: Sequence[str]) -> dict:
    """Results on the official Testing split and on Testing without its byte-identical copies of Training."""
    return {
        "official": evaluate_classifier(model, temperature, splits.test, spec, class_names),
        "deduplicated": evaluate_classifier(model, temperature, splits.test_deduplicated, spec, class_names),
    }
