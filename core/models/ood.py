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

Each distance is divided by its 98th percentile on validation brain slices, so both count in the same units. On their
own, the score is the larger of the two. Distances alone learn only what brains look like, and another body part's
MRI or a CT is close enough to pass, so the shipped guard adds an **outlier-exposure head** (Hendrycks et al., "Deep
Anomaly Detection with Outlier Exposure", ICLR 2019, https://arxiv.org/abs/1812.04606): a multinomial logistic
regression over the embedding and both log-distances, trained to tell brain MRI from real non-brain images by family
(:class:`OutlierHead`). Its score is the log-odds of "not a brain MRI", and the family it finds most likely names what
the image looks like in the warning. Inputs scoring above :attr:`OodDetector.threshold` are flagged. The statistics
live in ``weights/ood.npz`` beside the card ``weights/ood.json``, both written by ``python -m training.fit_ood``;
the card also records the SHA-256 of the network they were fitted on, because a retrained network has other
features and makes the statistics meaningless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.models.cards import TUMOUR_NET, file_sha256, read_evaluation, weights_dir, write_evaluation
from core.models.preprocess import preprocess_slice, resize
from core.models.registry import LoadedModel, ModelMissingError

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


FAMILY_PHRASES = {
    "mri_other_body": "an MRI of another body part",
    "ct": "a CT scan",
    "xray": "an X-ray or mammogram",
    "ultrasound": "an ultrasound image",
    "photo_or_microscopy": "a photograph, fundus or microscope image",
    "document": "a document or a drawing",
}
"""The non-brain families the head tells apart, with what the warning says the image looks like."""
FAMILY_SHARE = 0.6
"""The warning names a family when it holds at least this share of the head's non-brain probability."""


@dataclass(frozen=True)
class OutlierHead:
    """Multinomial logistic regression over standardised guard features; class 0 is brain MRI.

    Attributes:
        families: class names in column order: ``families[0]`` is brain MRI, the others keys of
            :data:`FAMILY_PHRASES`.
        feature_mean, feature_scale: the standardiser fitted on the training features.
        coef, intercept: K x F weights and K biases.
    """

    families: tuple[str, ...]
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = ((features - self.feature_mean) / self.feature_scale) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """N log-odds of "not a brain MRI" (clipped to +-20 so the numbers stay printable)."""
        brain = np.clip(self.probabilities(features)[:, 0], 2e-9, 1 - 2e-9)
        return np.log1p(-brain) - np.log(brain)

    def looks_like(self, features: np.ndarray) -> list[str | None]:
        """Per row, the non-brain family holding at least :data:`FAMILY_SHARE` of the non-brain probability."""
        others = self.probabilities(features)[:, 1:]
        shares = others / np.maximum(others.sum(axis=1, keepdims=True), 1e-12)
        return [self.families[1 + int(row.argmax())] if row.max() >= FAMILY_SHARE else None for row in shares]


def head_features(terms: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """What the head reads: the embedding and the log of both distances."""
    return np.concatenate([embeddings, np.log(np.maximum(terms, 1e-12))], axis=1)


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
        head_: the outlier-exposure head; None scores by the distances alone.
    """

    means_: np.ndarray
    precision_: np.ndarray
    pca_mean_: np.ndarray
    pca_components_: np.ndarray
    scales_: np.ndarray
    threshold_: float
    card: dict
    head_: OutlierHead | None = None


def embed(batch: np.ndarray, classifier: LoadedModel) -> np.ndarray:
    """N x D float64 embeddings of N preprocessed inputs (N x S x S x C), computed in chunks of :data:`BATCH`.

    The embedding is the pooled feature vector the type head classifies (the input of the card's logits layer),
    taken from the same forward pass as the answers (:meth:`core.models.registry.LoadedModel.predict_outputs`).

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


def ood_verdicts(batch: np.ndarray, classifier: LoadedModel, detector: OodDetector,
                 embeddings: np.ndarray | None = None) -> tuple[np.ndarray, list[str | None]]:
    """N scores (higher: less like a brain MRI slice) and, per input, the family it looks like (None when the head
    cannot tell or there is no head); ``embeddings`` from a forward pass already made save computing them again."""
    if detector.head_ is None:
        terms = score_terms(batch, classifier, detector, embeddings)
        return combine_terms(terms, detector.scales_), [None] * len(batch)
    rows = guard_features(batch, classifier, detector, embeddings)
    return detector.head_.log_odds(rows), detector.head_.looks_like(rows)


def ood_scores(batch: np.ndarray, classifier: LoadedModel, detector: OodDetector,
               embeddings: np.ndarray | None = None) -> np.ndarray:
    """N out-of-distribution scores of N preprocessed inputs; higher means less like a brain MRI slice."""
    return ood_verdicts(batch, classifier, detector, embeddings)[0]


def ood_score(scan_pixels: np.ndarray, classifier: LoadedModel, detector: OodDetector) -> float:
    """Out-of-distribution score of one decoded slice (H x W float in [0, 1]), prepared as the classifier's input."""
    return float(ood_scores(preprocess_slice(scan_pixels, classifier.spec)[None], classifier, detector)[0])


def is_out_of_distribution(score: float, detector: OodDetector) -> bool:
    """True when ``score`` is above the threshold fitted on validation brain slices."""
    return bool(score > detector.threshold_)


def describe_flag(score: float, threshold: float, looks_like: str | None = None) -> str:
    """The one-sentence warning for a flagged input, for the page, the report and the CLI alike; ``looks_like`` is
    a family key of the head (its phrase comes from :data:`FAMILY_PHRASES`)."""
    seen = f"looks like {FAMILY_PHRASES[looks_like]} rather than" if looks_like in FAMILY_PHRASES else \
        "does not look like"
    return (f"This image {seen} the brain MRI slices the models learnt from (out-of-distribution score "
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
    from sklearn.covariance import LedoitWolf  # fitting only: an analysis never needs scikit-learn
    from sklearn.decomposition import PCA

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


def guard_features(batch: np.ndarray, classifier: LoadedModel, detector: OodDetector,
                   embeddings: np.ndarray | None = None) -> np.ndarray:
    """N x F inputs of the head (:func:`head_features`) for N preprocessed inputs; ``embeddings`` as in
    :func:`ood_verdicts`."""
    features = embed(batch, classifier) if embeddings is None else np.asarray(embeddings, dtype=np.float64)
    return head_features(score_terms(batch, classifier, detector, features), features)


def fit_head(features: Sequence[np.ndarray], classes: Sequence[Sequence[str]], weights: Sequence[float],
             regularisation: float = 1.0) -> OutlierHead:
    """An outlier-exposure head learnt from groups of :func:`guard_features` rows.

    Args:
        features: groups of rows (e.g. Kaggle and LGG brains, other brain sources, real non-brain images, generated
            ones).
        classes: per group, each row's class: ``"brain_mri"`` or a key of :data:`FAMILY_PHRASES`.
        weights: per group, its share of the total sample weight, so a few hundred outliers count as much as the
            thousands of brains.
        regularisation: the inverse L2 strength ``C`` of the logistic regression.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    families = ("brain_mri", *FAMILY_PHRASES)
    x = np.concatenate(features)
    y = np.concatenate([[families.index(name) for name in names] for names in classes])
    sample_weight = np.concatenate([np.full(len(group), share / len(group))
                                    for group, share in zip(features, weights, strict=True)]) * len(y)
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=regularisation, max_iter=5000).fit(scaler.transform(x), y,
                                                                    sample_weight=sample_weight)
    return OutlierHead(tuple(families[i] for i in model.classes_), scaler.mean_, scaler.scale_, model.coef_,
                       model.intercept_)


def source_threshold(scores: Mapping[str, np.ndarray], percentile: float = TERM_PERCENTILE) -> tuple[float, dict]:
    """The highest per-source ``percentile``-th percentile of brain validation scores, so that no source has more
    than ``100 - percentile`` % of its slices flagged; also each source's own percentile."""
    by_source = {name: float(np.percentile(values, percentile, method="higher")) for name, values in scores.items()}
    return max(by_source.values()), by_source


def save_detector(detector: OodDetector, folder: Path) -> Path:
    """Write ``folder/ood.npz`` (arrays) and ``folder/ood.json`` (card, with the network's SHA-256); returns
    the card's path. The arrays are written first, so a card on disk always has its arrays."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    head = detector.head_
    np.savez(folder / f"{NAME}.npz", means=detector.means_, precision=detector.precision_,
             pca_mean=detector.pca_mean_, pca_components=detector.pca_components_, scales=detector.scales_,
             **({} if head is None else {"head_mean": head.feature_mean, "head_scale": head.feature_scale,
                                         "head_coef": head.coef, "head_intercept": head.intercept}))
    card = {**detector.card, "threshold": detector.threshold_,
            "model_sha256": file_sha256(folder / f"{TUMOUR_NET}.keras")}
    return write_evaluation(card, folder / f"{NAME}.json")


def load_detector(folder: Path | None = None) -> OodDetector:
    """Load the detector fitted on the network in ``folder`` (default: :func:`core.models.cards.weights_dir`).

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
        head = None
        if "head_coef" in arrays:
            head = OutlierHead(tuple(card["head"]["families"]), arrays["head_mean"], arrays["head_scale"],
                               arrays["head_coef"], arrays["head_intercept"])
        return OodDetector(arrays["means"], arrays["precision"], arrays["pca_mean"], arrays["pca_components"],
                           arrays["scales"], float(card["threshold"]), card, head)


def load_available_detector(folder: Path | None = None) -> OodDetector | None:
    """The installed detector, or None when it is absent or out of date (the app then skips the check)."""
    try:
        return load_detector(folder)
    except ModelMissingError:
        return None
