"""Models: cards, loading (Keras or LiteRT), preprocessing, and everything computed from a network's outputs.

- :mod:`core.models.cards`, :mod:`core.models.registry`, :mod:`core.models.installed`: the shipped models, found,
  loaded and described by their JSON cards;
- :mod:`core.models.keras_network`, :mod:`core.models.litert_network`, :mod:`core.models.network_layers`: runtimes;
- :mod:`core.models.preprocess`: the one path from a decoded slice to model input, shared with training;
- :mod:`core.models.analysis` (one slice, everything), :mod:`core.models.tumour`, :mod:`core.models.ood`,
  :mod:`core.models.uncertainty`, :mod:`core.models.gradcam`, :mod:`core.models.gradient_cams`,
  :mod:`core.models.metrics`.

Imports :mod:`core.io` only. This file imports nothing, so a card can be read without TensorFlow.
"""
