"""Out-of-distribution guard: is this upload a 2D brain MRI slice like the ones the network learnt from?

A classifier answers on anything, so a chest X-ray or a holiday photo still gets a confident "glioma". The detector
scores an input by two distances from the training brains and flags it when the larger one is unusual:

- **Embedding distance**: the Mahalanobis distance of the pooled features the type head classifies to the nearest
  class mean under one shared covariance (Lee et al., "A Simple Unified Framework for Detecting Out-of-Distribution
  Samples and Adversarial Attacks", NeurIPS 2018, https://arxiv.org/abs/1807.03888). It sees what the network
  sees, so anything that does not look like a brain to the network lands far from every class.
- **Reconstruction error**: how badly a linear autoencoder (principal components of 32 x 32 brain thumbnails, the
  optimal linear autoencoder, Baldi and Hornik, 1989) rebuilds the input. It catches inputs with unbrain-like
  pixels (noise, text, line art) that a classifier may still squeeze into a class cluster.

Each distance is divided by its 98th percentile on validation brain slices, so both count in the same units, and
the score is the larger of the two. Inputs scoring above :attr:`OodDetector.threshold` are flagged. The statistics
live in ``weights/ood.npz`` beside the card ``weights/ood.json``, both written by ``python -m training.fit_ood``;
the card also records the SHA-256 of the network they were fitted on, because a retrained network has other
features and makes the statistics meaningless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

from core.cards import TUMOUR_NET, file_sha256, read_evaluation, weights_dir, write_evaluation
from core.preprocess import preprocess_slice, resize
from core.registry import LoadedModel, ModelMissingError

NAME = "ood"
FIT_COMMAND = "python -m training.fit_ood"
TERMS = ("embedding_mahalanobis", "thumbnail_reconstruction_error")
"""The two distances, in the column order of :func:`score_terms`."""
THUMBNAIL_SIZE = 32
"""Side of the thumbnails the linear autoencoder rebuilds: enough for layout and texture, cheap to fit."""
PCA_COMPONENTS = 48
TERM_PERCENTILE = 98.0
"""Each distance is expressed as a multiple of this percentile of its validation values."""
BATCH = 64


@dataclass(frozen=True)
class OodDetector:
    """Fitted statistics of brain slices (learnt attributes end in ``_``, as in scikit-learn).

    Attributes:
        means_: K x D embedding mean of each cluster (the network's type classes, plus any extra brain sources).
        precision_: D x D inverse of the shared (Ledoit-Wolf shrunk) embedding covariance.
        pca_mean_: P mean thumbnail (P = :data:`THUMBNAIL_SIZE` squared).
        pca_components_: C x P orthonormal principal axes of brain thumbnails.
        scales_: one divisor per entry of :data:`TERMS` (its 98th percentile on validation brain slices).
        threshold_: scores above it are flagged.
        card: the JSON card (method, threshold rule, counts, results).
    """

    means_: np.ndarray
    precision_: np.ndarray
    pca_mean_: np.ndarray
    pca_components_: np.ndarray
    scales_: np.ndarray
    threshold_: float
    card: dict


def embed(batch: np.ndarray, classifier: LoadedModel) -> np.ndarray:
    """N x D float64 embeddings of N preprocessed inputs (N x S x S x C), computed in chunks of :data:`BATCH`.

    The embedding is the pooled feature vector the type head classifies (the input of the card's logits layer),
    taken from the same forward pass as the answers (:meth:`core.registry.LoadedModel.predict_outputs`).

    Raises:
        ValueError: the card names no logits layer, so there is no embedding to score.
    """
    chunks = []
    for start in range(0, len(batch), BATCH):
        outputs = classifier.predict_outputs(batch[start:start + BATCH])
        if "embedding" not in outputs:
            raise ValueError(f"The {classifier.name} card names no logits layer to take an embedding from.")
        chunks.append(outputs["embedding"])
    return np.concatenate(chunks).astype(np.float64)


def make_thumbnails(batch: np.ndarray) -> np.ndarray:
    """N x P flattened :data:`THUMBNAIL_SIZE`-pixel thumbnails of the first channel of N preprocessed inputs."""
    return np.stack([resize(image[..., 0].astype(np.float32), THUMBNAIL_SIZE).ravel() for image in batch])


def mahalanobis_distance(features: np.ndarray, means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """N distances from each feature row to its nearest mean, under the shared ``precision`` matrix."""
    differences = features[:, None, :] - means[None, :, :]
    squared = np.einsum("nkd,de,nke->nk", differences, precision, differences)
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def reconstruction_error(thumbnails: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """N root-mean-square residuals of the thumbnails after projecting onto the principal ``components``."""
    centred = thumbnails - mean
    residual = centred - (centred @ components.T) @ components
    return np.sqrt(np.mean(residual**2, axis=1))


def score_terms(batch: np.ndarray, classifier: LoadedModel, detector: OodDetector,
                embeddings: np.ndarray | None = None) -> np.ndarray:
    """N x 2 raw distances (columns as in :data:`TERMS`) of N preprocessed inputs; ``embeddings`` (from a forward
    pass already made) saves computing them again."""
    features = embed(batch, classifier) if embeddings is None else np.asarray(embeddings, dtype=np.float64)
    distance = mahalanobis_distance(features, detector.means_, detector.precision_)
    error = reconstruction_error(make_thumbnails(batch), detector.pca_mean_, detector.pca_components_)
    return np.stack([distance, error], axis=1)


def combine_terms(terms: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """N scores: the larger distance, each in multiples of its validation 98th percentile."""
    return (terms / scales).max(axis=1)


def ood_scores(batch: np.ndarray, classifier: LoadedModel, detector: OodDetector,
               embeddings: np.ndarray | None = None) -> np.ndarray:
    """N out-of-distribution scores of N preprocessed inputs; higher means less like a brain MRI slice."""
    return combine_terms(score_terms(batch, classifier, detector, embeddings), detector.scales_)


def ood_score(scan_pixels: np.ndarray, classifier: LoadedModel, detector: OodDetector) -> float:
    """Out-of-distribution score of one decoded slice (H x W float in [0, 1]), prepared as the classifier's input."""
    return float(ood_scores(preprocess_slice(scan_pixels, classifier.spec)[None], classifier, detector)[0])


def is_out_of_distribution(score: float, detector: OodDetector) -> bool:
    """True when ``score`` is above the threshold fitted on validation brain slices."""
    return bool(score > detector.threshold_)


def describe_flag(score: float, threshold: float) -> str:
    """The one-sentence warning for a flagged input, for the page, the report and the CLI alike."""
    return (f"This image does not look like the brain MRI slices the models learnt from (out-of-distribution score "
            f"{score:.2f}; brain slices score up to {threshold:.2f}), so its predictions may be meaningless. "
            "Please check that it is a 2D brain MRI slice.")


def fit_detector(train_batch: np.ndarray, clusters: Sequence[int], val_batch: np.ndarray, classifier: LoadedModel,
                 percentile: float = TERM_PERCENTILE, card: dict | None = None) -> OodDetector:
    """Fit the statistics on training brain slices and the threshold on validation brain slices.

    Args:
        train_batch: N x S x S x C preprocessed training slices.
        clusters: N integer cluster labels (the class index; extra brain sources get indices of their own).
        val_batch: M x S x S x C preprocessed validation slices, used only for the scales and the threshold.
        classifier: the classifier whose embedding is scored.
        percentile: share of validation slices (in percent) that must stay unflagged; 98 allows 2 % false flags.
        card: starting content of the detector's card; the fitted numbers are added to it.
    """
    clusters = np.asarray(clusters)
    features = embed(train_batch, classifier)
    labels = np.unique(clusters)
    means = np.stack([features[clusters == label].mean(axis=0) for label in labels])
    # One covariance shared by all clusters (Lee et al.): pooled within-cluster deviations, shrunk towards a scaled
    # identity, as pooled ReLU features are strongly correlated and some channels are nearly constant.
    deviations = features - means[np.searchsorted(labels, clusters)]
    precision = LedoitWolf(assume_centered=True).fit(deviations).precision_
    pca = PCA(n_components=min(PCA_COMPONENTS, len(train_batch) - 1), random_state=0).fit(make_thumbnails(train_batch))
    partial = OodDetector(means, precision, pca.mean_, pca.components_, np.ones(len(TERMS)), np.inf, {})
    val_terms = score_terms(val_batch, classifier, partial)
    # "higher" picks an observed value, so at most (100 - percentile) % of validation slices lie above it.
    scales = np.percentile(val_terms, percentile, axis=0, method="higher")
    threshold = float(np.percentile(combine_terms(val_terms, scales), percentile, method="higher"))
    fitted = {"threshold": threshold, "term_scales": dict(zip(TERMS, scales.tolist(), strict=True)),
              "counts": {"fit": len(train_batch), "threshold": len(val_batch)}, "clusters": len(labels),
              "embedding_dim": int(features.shape[1]), "pca_components": int(pca.n_components_),
              "pca_explained_variance": float(pca.explained_variance_ratio_.sum())}
    return OodDetector(means, precision, pca.mean_, pca.components_, scales, threshold, {**(card or {}), **fitted})


def save_detector(detector: OodDetector, folder: Path) -> Path:
    """Write ``folder/ood.npz`` (arrays) and ``folder/ood.json`` (card, with the network's SHA-256); returns
    the card's path. The arrays are written first, so a card on disk always has its arrays."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{NAME}.npz", means=detector.means_, precision=detector.precision_,
             pca_mean=detector.pca_mean_, pca_components=detector.pca_components_, scales=detector.scales_)
    card = {**detector.card, "threshold": detector.threshold_,
            "model_sha256": file_sha256(folder / f"{TUMOUR_NET}.keras")}
    return write_evaluation(card, folder / f"{NAME}.json")


def load_detector(folder: Path | None = None) -> OodDetector:
    """Load the detector fitted on the network in ``folder`` (default: :func:`core.cards.weights_dir`).

    Raises:
        ModelMissingError: the detector is absent, or was fitted on another network than the one installed;
            the message names the command that fits it.
    """
    folder = Path(folder or weights_dir())
    card_path, arrays_path = folder / f"{NAME}.json", folder / f"{NAME}.npz"
    classifier_path = folder / f"{TUMOUR_NET}.keras"
    if not (card_path.exists() and arrays_path.exists() and classifier_path.exists()):
        raise ModelMissingError(f"The out-of-distribution check is not installed; fit it with `{FIT_COMMAND}`.")
    card = read_evaluation(card_path)
    if card.get("model_sha256") != file_sha256(classifier_path):
        raise ModelMissingError("The out-of-distribution check was fitted on another network; "
                                f"refit it with `{FIT_COMMAND}`.")
    with np.load(arrays_path) as arrays:
        return OodDetector(arrays["means"], arrays["precision"], arrays["pca_mean"], arrays["pca_components"],
                           arrays["scales"], float(card["threshold"]), card)


def load_available_detector(folder: Path | None = None) -> OodDetector | None:
    """The installed detector, or None when it is absent or out of date (the app then skips the check)."""
    try:
        return load_detector(folder)
    except ModelMissingError:
        return None
