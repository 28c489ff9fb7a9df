"""Figures build from complete cards and from cards with parts missing, in one fixed style."""

import subprocess
import sys

import numpy as np
import plotly.graph_objects as go
import pytest
from fake_cards import CLASS_NAMES, presence_view, segmentation_view, study_card, type_view

from core.present import figures
from core.present.summaries import operating_point


@pytest.fixture
def classifier(tmp_path):
    return type_view(tmp_path)


def is_unavailable(fig: go.Figure) -> bool:
    return any(a.text == figures.UNAVAILABLE for a in fig.layout.annotations)


def test_probability_bars_keep_class_order_colours_and_percent_axis():
    fig = figures.make_probability_figure({"glioma": 0.7, "meningioma": 0.2, "notumor": 0.05, "pituitary": 0.05})
    bar = fig.data[0]
    assert list(bar.y) == ["glioma", "meningioma", "no tumour", "pituitary"]
    assert list(bar.marker.color) == [figures.PALETTE[name] for name in CLASS_NAMES]
    assert tuple(fig.layout.xaxis.range) == (0, 1) and fig.layout.xaxis.tickformat == ".0%"
    assert bar.text[0] == "70.0%"


def test_class_colours_are_fixed_and_unknown_names_stable():
    assert figures.colour("glioma") == figures.PALETTE["glioma"]
    assert figures.colour("ependymoma") == figures.colour("ependymoma")
    assert figures.colour("ependymoma") in figures.FALLBACK_COLOURS


def test_figures_build_from_a_complete_classifier_card(classifier):
    split = classifier["test"]["kaggle_official"]
    history = figures.make_history_figure(classifier["history"], "macro_f1", classifier["best_epoch"])
    assert [trace.name for trace in history.data] == ["train", "validation"]
    assert list(history.data[0].x) == [1, 2, 3, 4]
    roc = figures.make_roc_figure(split["roc"])
    assert roc.data[0].name == "glioma (AUC 0.950)" and roc.data[-1].name == "chance"
    per_class = figures.make_per_class_figure(split["per_class"])
    assert [trace.name for trace in per_class.data] == ["Precision", "Recall", "F1"]
    reliability = figures.make_reliability_figure(split["calibration"])
    assert "ECE 3.1%" in reliability.layout.title.text
    assert len(reliability.data[0].x) == 4  # the empty bin is left out
    for fig in (history, roc, per_class, reliability):
        assert fig.layout.template.layout.paper_bgcolor == "white"
        assert not is_unavailable(fig)


def test_confusion_matrix_counts_and_row_shares(classifier):
    matrix = classifier["test"]["kaggle_official"]["confusion_matrix"]
    counts = figures.make_confusion_figure(matrix, CLASS_NAMES, normalise=False)
    assert counts.data[0].text[0][0] == "20"
    shares = figures.make_confusion_figure(matrix, CLASS_NAMES, normalise=True)
    np.testing.assert_allclose(np.asarray(shares.data[0].z).sum(axis=1), 1.0)


def test_confusion_matrix_with_an_empty_row_does_not_divide_by_zero():
    fig = figures.make_confusion_figure([[0, 0], [1, 3]], ["a", "b"], normalise=True)
    assert np.asarray(fig.data[0].z)[0].tolist() == [0.0, 0.0]


def test_binary_curves_mark_the_operating_point():
    split = presence_view()["test"]["kaggle_official"]
    point = operating_point(split)
    roc = figures.make_binary_roc_figure(split["roc"], point)
    marker = roc.data[-1]
    assert marker.name == "threshold 0.42"
    assert marker.x[0] == pytest.approx(1 - 0.91) and marker.y[0] == pytest.approx(0.94)
    pr = figures.make_pr_figure(split["pr"], point)
    assert pr.data[0].name == "PR (AP 0.930)"
    assert pr.data[-1].y[0] == pytest.approx(94 / 103)


def test_dice_histogram_uses_bin_edges():
    histogram = segmentation_view()["validation"]["brisc"]["dice"]["histogram"]
    fig = figures.make_histogram_figure(histogram, "Dice")
    np.testing.assert_allclose(fig.data[0].x, [0.125, 0.375, 0.625, 0.875])


def test_study_figure_has_one_axis_per_parameter_and_the_score():
    fig = figures.make_study_figure(study_card()["trials"])
    labels = [d.label for d in fig.data[0].dimensions]
    assert labels == ["learning rate", "dropout", "mask loss weight", "base filters", "Validation score"]
    flags = figures.make_study_figure([{"params": {"crop": flag}, "val_score": 0.5} for flag in (True, False)])
    assert list(flags.data[0].dimensions[0].ticktext) == ["False", "True"]


@pytest.mark.parametrize("build", [
    lambda: figures.make_probability_figure({}),
    lambda: figures.make_history_figure({}, "loss"),
    lambda: figures.make_history_figure({"loss": []}, "loss"),
    lambda: figures.make_confusion_figure(None, []),
    lambda: figures.make_confusion_figure([[1, 2]], ["a"]),
    lambda: figures.make_roc_figure(None),
    lambda: figures.make_roc_figure({"glioma": {"auc": 0.9}}),
    lambda: figures.make_per_class_figure({}),
    lambda: figures.make_reliability_figure(None),
    lambda: figures.make_reliability_figure({"bins": [{"count": 0, "accuracy": None}]}),
    lambda: figures.make_histogram_figure({"edges": [0, 1], "counts": [1, 2]}, "Dice"),
    lambda: figures.make_histogram_figure(None, "Dice"),
    lambda: figures.make_pr_figure({}, None),
    lambda: figures.make_binary_roc_figure(None, None),
    lambda: figures.make_study_figure([]),
    lambda: figures.make_study_figure([{"params": {"crop": True}, "val_macro_f1": None}]),
])
def test_missing_card_parts_give_a_figure_that_says_so(build):
    assert is_unavailable(build())


def test_partial_parts_still_draw_what_is_there():
    history = figures.make_history_figure({"loss": [1.0, 0.5]}, "loss")
    assert [trace.name for trace in history.data] == ["train"]
    roc = figures.make_binary_roc_figure({"fpr": [0, 1], "tpr": [0, 1]}, {"threshold": 0.5})
    assert roc.data[0].name == "ROC" and len(roc.data) == 2  # no AUC, no operating point
    confusion = figures.make_confusion_figure([[1, 2], [3, 4]], ["only one name"])
    assert list(confusion.data[0].x) == ["0", "1"]


def test_figures_module_does_not_import_streamlit():
    out = subprocess.run([sys.executable, "-c", "import core.present.figures, sys; print('streamlit' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
