"""The tumour network's mask-pooled type head, its saved form, and seeding one network from another."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.architectures import build_tumour_net
from training.train_tumour_net import copy_weights


def small(size: int = 32, pooling: str = "mask") -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_tumour_net(size, base=8, depth=2, pooling=pooling)


def test_attention_is_a_weight_map_on_the_last_stage_grid_summing_to_one():
    model = small()
    view = keras.Model(model.inputs, model.get_layer("attention").output)
    weights = np.asarray(view(np.random.default_rng(0).random((3, 32, 32, 1), np.float32)))
    assert weights.shape == (3, 8, 8, 1)
    np.testing.assert_allclose(weights.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    assert weights.min() > 0


def test_type_loss_never_reaches_the_decoder():
    """The attention reads the mask without its gradient, so only the mask loss trains the segmentation."""
    model = small()
    x = tf.random.uniform((2, 32, 32, 1), seed=1)
    with tf.GradientTape() as tape:
        loss = keras.losses.categorical_crossentropy(tf.one_hot([0, 1], 4), model(x, training=True)["type"])
    kernel = model.get_layer("mask").kernel
    gradient = tape.gradient(loss, [kernel, model.get_layer("stem_conv").kernel])
    assert gradient[0] is None or not np.asarray(gradient[0]).any()
    assert np.asarray(gradient[1]).any()


def test_saved_network_reloads_with_identical_outputs(tmp_path):
    model = small()
    model.save(tmp_path / "net.keras")
    reloaded = keras.saving.load_model(tmp_path / "net.keras", compile=False)
    x = np.random.default_rng(2).random((2, 32, 32, 1), np.float32)
    for name in ("type", "mask"):
        np.testing.assert_allclose(np.asarray(reloaded(x)[name]), np.asarray(model(x)[name]), atol=1e-6)


def test_copy_weights_seeds_a_larger_mask_pooled_network_from_a_pooled_one():
    source, target = small(32, "gap"), small(48, "mask")
    copy_weights(source, target)
    for name in ("full_res_conv", "stem_conv", "mask"):
        for old, new in zip(source.get_layer(name).get_weights(), target.get_layer(name).get_weights(), strict=True):
            np.testing.assert_array_equal(old, new)
    assert source.get_layer("logits").kernel.shape != target.get_layer("logits").kernel.shape


def test_copy_weights_keeps_the_type_head_between_networks_that_pool_alike():
    source = small(32, "mask")
    keras.utils.set_random_seed(1)
    target = build_tumour_net(48, base=8, depth=2, pooling="mask")
    assert not np.array_equal(source.get_layer("logits").kernel, target.get_layer("logits").kernel)
    copy_weights(source, target)
    pairs = zip(source.get_layer("logits").get_weights(), target.get_layer("logits").get_weights(), strict=True)
    for old, new in pairs:
        np.testing.assert_array_equal(old, new)


def test_copy_weights_refuses_a_different_architecture():
    keras.utils.set_random_seed(0)
    with pytest.raises(ValueError):
        copy_weights(build_tumour_net(32, base=8, depth=2), build_tumour_net(32, base=8, depth=3))


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match="pooling"):
        small(pooling="max")
