"""Card -> label, sentence and table shaping: numbers come from the card, missing parts read "not available"."""

import math

import pytest
from fake_cards import classifier_card, presence_card, segmenter_card, study_card

from core import summaries

TITLES = {"classifier": "Tumour type", "presence": "Tumour presence", "segmenter": "Tumour segmentation"}


@pytest.fixture
def cards(tmp_path):
    return {"classifier": classifier_card(tmp_path), "classifier_study": study_card(),
            "presence": presence_card(), "segmenter": segmenter_card()}


def test_dig_returns_none_for_any_missing_step():
    card = {"a": {"b": [1, 2]}, "s": "text"}
    assert summaries.dig(card, "a", "b", 1) == 2
    assert summaries.dig(card, "a", "x") is None
    assert summaries.dig(card, "a", "b", 5) is None
    assert summaries.dig(card, "s", "x") is None
    assert summaries.dig(None, "a") is None


def test_headline_metrics_format_each_model(cards):
    assert summaries.headline_metrics("classifier", cards["classifier"]) == {
        "Test accuracy": "95.2%", "Test macro-F1": "0.942"}
    assert summaries.headline_metrics("presence", cards["presence"])["Sensitivity"] == "94.0%"
    assert summaries.headline_metrics("segmenter", cards["segmenter"]) == {"BRISC mean Dice": "0.810"}


def test_headline_metrics_of_an_incomplete_card_read_not_available():
    assert set(summaries.headline_metrics("classifier", {"task": "x"}).values()) == {summaries.NOT_AVAILABLE}


def test_format_date_and_values():
    assert summaries.format_date({"run": {"date": "2026-11-22T06:29:31+00:00"}}) == "2026-11-22 06:29"
    assert summaries.format_date({}) == summaries.NOT_AVAILABLE
    assert summaries.format_value(1234, "count") == "1,234"
    assert summaries.format_value(None) == summaries.NOT_AVAILABLE


def test_is_installed_needs_weights_and_card(tmp_path):
    (tmp_path / "classifier.json").write_text("{}")
    assert not summaries.is_installed("classifier", tmp_path)
    (tmp_path / "classifier.keras").write_bytes(b"")
    assert summaries.is_installed("classifier", tmp_path)


def test_classifier_test_table_puts_splits_side_by_side(cards):
    table = summaries.classifier_test_table(cards["classifier"])
    assert list(table.columns) == ["Official test", "Deduplicated test"]
    assert table.loc["Accuracy", "Official test"] == pytest.approx(0.952)
    assert table.loc["Images", "Deduplicated test"] == 80
    assert "F1 pituitary" in table.index


def test_calibration_table_has_validation_and_test_rows(cards):
    table = summaries.calibration_table(cards["classifier"])
    assert list(table.index) == ["Validation", "Official test", "Deduplicated test"]
    assert table.loc["Validation", "After"] == pytest.approx(0.022)


def test_duplicates_come_from_the_card(cards):
    assert summaries.duplicate_count(cards["classifier"]) == 215
    assert "215 byte-identical" in summaries.duplicates_sentence(cards["classifier"])
    assert summaries.NOT_AVAILABLE in summaries.duplicates_sentence(None)


def test_trials_table_is_sorted_best_first_with_flat_params(cards):
    table = summaries.trials_table(cards["classifier_study"])
    assert table.index[0] == 1 and bool(table.iloc[0]["crop"]) is True
    assert table["val_macro_f1"].is_monotonic_decreasing
    assert summaries.trials_table({}).empty


def test_crop_sentence_states_the_paired_result(cards):
    sentence = summaries.crop_sentence(cards["classifier_study"])
    assert "helped" in sentence and "0.830" in sentence and "0.800" in sentence
    assert summaries.NOT_AVAILABLE in summaries.crop_sentence({"trials": []})


def test_operating_point_precision_from_the_confusion_matrix(cards):
    point = summaries.operating_point(cards["presence"]["test"]["kaggle_official"])
    assert point["precision"] == pytest.approx(94 / 103)
    assert summaries.operating_point({"confusion_matrix": [[5, 0], [5, 0]]})["precision"] is None


def test_presence_table_has_one_row_per_test_split(cards):
    table = summaries.presence_table(cards["presence"])
    assert list(table.index) == ["Validation", "Kaggle official test", "Kaggle deduplicated test", "LGG patients"]
    assert table.loc["LGG patients", "AUC"] == pytest.approx(0.874)


def test_segmenter_tables(cards):
    card = cards["segmenter"]
    assert summaries.segmentation_table(card).loc["BRISC validation", "Mean Dice"] == pytest.approx(0.81)
    groups = summaries.dice_groups_table(card["validation"]["brisc"]["by_plane"])
    assert list(groups.index) == ["axial", "coronal", "sagittal"]
    assert summaries.per_patient_table(card).index.tolist() == ["TCGA_DU_5849", "TCGA_CS_4941"]
    older = {"validation": {"lgg": {"per_patient": [{"patient": "p", "dice_mean": 0.4, "slices": 3}]}}}
    assert summaries.per_patient_table(older).loc["p", "Dice"] == 0.4
    assert summaries.false_positive_table(card).loc["LGG slices without tumour", "Slices"] == 500
    assert "Kaggle no-tumour test slices" in summaries.false_positive_table(card).index
    assert summaries.variants_table(card).loc["unet-32", "chosen"]


@pytest.mark.parametrize("build", [
    summaries.classifier_test_table, summaries.calibration_table, summaries.trials_table, summaries.presence_table,
    summaries.segmentation_table, summaries.per_patient_table, summaries.false_positive_table,
    summaries.variants_table, lambda card: summaries.dice_groups_table(summaries.dig(card, "by_class")),
])
def test_tables_of_an_empty_card_are_empty_not_errors(build):
    assert build({"task": "unknown"}).empty


def test_missing_cells_stay_numeric(cards):
    del cards["classifier"]["test"]["deduplicated"]["ece_uncalibrated"]
    table = summaries.classifier_test_table(cards["classifier"])
    assert math.isnan(table.loc["ECE (uncalibrated)", "Deduplicated test"])
    assert table.dtypes.eq(float).all()


def test_model_card_summaries(cards):
    metrics = summaries.metrics_summary_table(cards, TITLES)
    assert metrics["Model"].tolist().count("Tumour presence") == 3
    assert summaries.reproduce_commands(cards)["classifier_study"] == "python -m training.tune_classifier --trials=4"
    architecture = summaries.architecture_table(cards, TITLES)
    assert architecture["Architecture"].tolist() == ["residual CNN", "residual CNN", "U-Net"]
    assert architecture.loc[0, "Parameters"] == "123,456"
    assert "5,140 training" in summaries.split_counts_sentence(cards["classifier"])
    assert summaries.metrics_summary_table({}, TITLES)["Value"].eq(summaries.NOT_AVAILABLE).all()
