"""Contracts of core.models.gradcam, checked on a tiny classifier trained here to find a synthetic bright lesion."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core.models.gradcam import ATTENTION, GRADIENT_METHODS, available_methods, default_method, gradcam_heatmap
from core.models.preprocess import InputSpec, find_brain_box, preprocess_slice
from core.models.registry import LoadedModel

SIZE = 64
LESION_RADIUS = 5
LESION_LEVEL = 0.9
CLASS_NAMES = ["clear", "lesion"]


def make_slice(rng: np.random.Generator, lesion: bool) -> tuple[np.ndarray, tuple[int, int] | None]:
    """A noisy SIZE x SIZE slice in [0, 1], with a bright disk at a random centre (returned) when ``lesion``.

    Both kinds carry scattered pixels as bright as the lesion, so intensity normalisation treats them alike and the
    only difference a model can learn is a compact bright region.
    """
    pixels = 0.3 + 0.08 * rng.standard_normal((SIZE, SIZE))
    pixels[rng.random((SIZE, SIZE)) < 0.02] = LESION_LEVEL
    centre = None
    if lesion:
        centre = tuple(int(v) for v in rng.integers(LESION_RADIUS + 2, SIZE - LESION_RADIUS - 2, size=2))
        pixels[inside_disk(centre)] = LESION_LEVEL
    return np.clip(pixels, 0.0, 1.0).astype(np.float32), centre


def inside_disk(centre: tuple[int, int], shape: tuple[int, int] = (SIZE, SIZE)) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= LESION_RADIUS**2


def build_classifier() -> keras.Model:
    """A flat CNN named like the shipped classifier: convolutions, "last_conv", GAP, "logits", "probs"."""
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same")(x)
    x = keras.layers.Activation("relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(len(CLASS_NAMES), name="logits")(x)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(logits))


def make_card(crop: bool = False) -> dict:
    return {
        "input": InputSpec(size=SIZE, crop=crop).to_dict(),
        "class_names": CLASS_NAMES,
        "architecture": {"gradcam_layer": "last_conv", "logits_layer": "logits"},
    }


@pytest.fixture(scope="module")
def trained() -> LoadedModel:
    """The tiny classifier, trained for a few seconds until it tells lesion slices from clear ones."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = np.arange(400) % 2
    images = np.stack([preprocess_slice(make_slice(rng, bool(label))[0], InputSpec(size=SIZE)) for label in labels])
    model = build_classifier()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for _ in range(20):
        history = model.fit(images, labels, epochs=1, batch_size=16, verbose=0)
        if history.history["accuracy"][-1] >= 0.98:
            break
    return LoadedModel("classifier", model, make_card())


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_heatmap_has_input_shape_and_unit_range(trained, method):
    pixels = np.full((70, 90), 0.3, np.float32)
    pixels[3:67, 13:77] = make_slice(np.random.default_rng(1), lesion=True)[0]
    heatmap = gradcam_heatmap(trained, pixels, method=method)
    assert heatmap.shape == pixels.shape
    assert heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert heatmap.max() > 0.0


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_explicit_predicted_class_gives_the_default_map(trained, method):
    pixels, _ = make_slice(np.random.default_rng(2), lesion=True)
    predicted = int(np.argmax(trained.predict_raw(preprocess_slice(pixels, trained.spec)[None])[0]))
    np.testing.assert_allclose(gradcam_heatmap(trained, pixels, predicted, method),
                               gradcam_heatmap(trained, pixels, None, method))


def test_unknown_method_raises_value_error(trained):
    with pytest.raises(ValueError, match="Unknown heatmap method"):
        gradcam_heatmap(trained, np.zeros((SIZE, SIZE), np.float32), method="LayerCAM")


def test_model_without_gradcam_layer_raises_value_error(trained):
    card = {**make_card(), "architecture": {"logits_layer": "logits"}}
    with pytest.raises(ValueError, match="names no gradcam_layer"):
        gradcam_heatmap(LoadedModel("classifier", trained.model, card), np.zeros((SIZE, SIZE), np.float32))


def test_heatmap_does_not_change_the_callers_model(trained):
    batch = preprocess_slice(make_slice(np.random.default_rng(3), lesion=True)[0], trained.spec)[None]
    before = np.asarray(trained.model(batch))
    for method in GRADIENT_METHODS:
        gradcam_heatmap(trained, batch[0, ..., 0], method=method)
    np.testing.assert_allclose(np.asarray(trained.model(batch)), before, rtol=1e-6)
    assert np.isclose(before.sum(), 1.0)  # still the softmax output


def test_cropping_model_gets_the_crop_map_inside_the_brain_box_and_zero_outside(trained):
    rng = np.random.default_rng(4)
    pixels = np.zeros((96, 120), np.float32)
    pixels[20:84, 30:94] = make_slice(rng, lesion=True)[0]  # a "head" on a dark background
    cropping = LoadedModel("classifier", trained.model, make_card(crop=True))
    top, left, bottom, right = find_brain_box(pixels)
    assert (bottom - top, right - left) != pixels.shape

    heatmap = gradcam_heatmap(cropping, pixels)

    inside = np.zeros(pixels.shape, bool)
    inside[top:bottom, left:right] = True
    assert heatmap.shape == pixels.shape
    assert not heatmap[~inside].any()
    np.testing.assert_allclose(heatmap[inside].reshape(bottom - top, right - left),
                               gradcam_heatmap(trained, pixels[top:bottom, left:right]), atol=1e-6)


def test_heatmap_peaks_inside_the_lesion_more_often_than_not(trained):
    """Issue 4: the map should point at the lesion on slices the model classifies as tumour."""
    rng = np.random.default_rng(5)
    fixtures = [make_slice(rng, lesion=True) for _ in range(10)]
    batch = np.stack([preprocess_slice(pixels, trained.spec) for pixels, _ in fixtures])
    called_lesion = np.argmax(trained.predict_raw(batch), axis=1) == CLASS_NAMES.index("lesion")
    assert called_lesion.sum() >= 8, "the test model did not learn to find lesions"

    hits = 0
    for (pixels, centre), is_lesion in zip(fixtures, called_lesion, strict=True):
        if is_lesion:
            heatmap = gradcam_heatmap(trained, pixels)
            hits += bool(inside_disk(centre)[np.unravel_index(np.argmax(heatmap), heatmap.shape)])
    assert hits > called_lesion.sum() / 2


@pytest.fixture(scope="module")
def attending(tmp_path_factory) -> LoadedModel:
    """The tiny two-headed network of conftest, whose type head pools by its mask of bright pixels."""
    from conftest import save_tiny_network

    from core.models.registry import load_model

    return load_model("tumour_net", save_tiny_network(tmp_path_factory.mktemp("attending")))


def test_attention_is_offered_only_by_a_network_with_an_attention_layer(trained, attending):
    assert ATTENTION in available_methods(attending)
    assert ATTENTION not in available_methods(trained)
    assert default_method(trained) in GRADIENT_METHODS
    with pytest.raises(ValueError, match="Unknown heatmap method"):
        gradcam_heatmap(trained, np.zeros((SIZE, SIZE), np.float32), method=ATTENTION)


def test_attention_map_peaks_on_the_region_the_mask_finds_and_is_the_same_for_every_class(attending):
    from helpers import brain_slice

    pixels = brain_slice(128, 128)
    heatmap = gradcam_heatmap(attending, pixels, method=ATTENTION)
    assert heatmap.shape == pixels.shape and heatmap.min() >= 0.0 and heatmap.max() > 0.95
    blob = pixels >= 0.9
    assert blob[np.unravel_index(np.argmax(heatmap), heatmap.shape)]
    assert heatmap[blob].mean() > 5 * heatmap[~blob].mean()
    for class_index in range(len(attending.class_names)):
        np.testing.assert_allclose(gradcam_heatmap(attending, pixels, class_index, ATTENTION), heatmap)


def test_attention_weights_sum_to_one_per_slice(attending):
    from helpers import brain_slice

    batch = preprocess_slice(brain_slice(), attending.spec)[None]
    weights = attending.predict_outputs(batch)["attention"]
    assert weights.shape[1:] == (16, 16, 1) and weights.min() > 0
    assert weights.sum() == pytest.approx(1.0, abs=1e-5)


def test_attention_from_the_analysis_pass_gives_the_same_map_without_a_second_pass(attending):
    from helpers import brain_slice

    from core.io.scan import ScanSlice
    from core.models.analysis import analyze

    pixels = brain_slice(96, 80)
    analysis = analyze(ScanSlice(pixels=pixels), {"tumour_net": attending})
    assert analysis.attention is not None
    np.testing.assert_allclose(gradcam_heatmap(attending, pixels, method=ATTENTION, attention=analysis.attention),
                               gradcam_heatmap(attending, pixels, method=ATTENTION), atol=1e-6)
