"""Card -> label, sentence and table shaping: numbers come from the card, missing parts read "not available"."""

import math

import pytest
from fake_cards import presence_view, segmentation_view, study_card, tumour_net_card, type_view

from core.models.cards import MODELS
from core.present import summaries

TITLES = {"tumour_net": "Tumour network"}


@pytest.fixture
def cards(tmp_path):
    return {"tumour_net": tumour_net_card(tmp_path), "tumour_net_study": study_card()}


@pytest.fixture
def views(cards):
    return summaries.section_views(cards["tumour_net"])


def test_dig_returns_none_for_any_missing_step():
    card = {"a": {"b": [1, 2]}, "s": "text"}
    assert summaries.dig(card, "a", "b", 1) == 2
    assert summaries.dig(card, "a", "x") is None
    assert summaries.dig(card, "a", "b", 5) is None
    assert summaries.dig(card, "s", "x") is None
    assert summaries.dig(None, "a") is None


def test_headline_metrics_format_the_network(cards):
    assert summaries.headline_metrics("tumour_net", cards["tumour_net"]) == {
        "Type accuracy, official test": "95.2%", "Type macro-F1": "0.942", "Presence sensitivity, Kaggle test": "94.0%",
        "Presence specificity, Kaggle test": "91.0%", "BRISC validation mean Dice": "0.810"}
    every = summaries.headline_metrics("tumour_net", cards["tumour_net"], lead_only=False)
    assert len(every) == len(MODELS["tumour_net"].headlines) > 5 and every["LGG test per-patient mean Dice"] == "0.600"


def test_headline_metrics_of_an_incomplete_card_read_not_available():
    assert set(summaries.headline_metrics("tumour_net", {"task": "x"}).values()) == {summaries.NOT_AVAILABLE}


def test_section_views_have_the_shapes_the_tables_read(cards, views, tmp_path):
    assert views["type"]["test"] == type_view(tmp_path)["test"]
    assert views["presence"]["test"] == presence_view()["test"]
    assert views["segmentation"]["validation"]["brisc"] == segmentation_view()["validation"]["brisc"]
    assert views["segmentation"]["validation"]["lgg"]["dice"]["mean"] == pytest.approx(0.81)
    assert summaries.section_views({})["type"]["test"] == {}


def test_format_date_and_values():
    assert summaries.format_date({"run": {"date": "2026-11-22T06:29:31+00:00"}}) == "2026-11-22 06:29"
    assert summaries.format_date({}) == summaries.NOT_AVAILABLE
    assert summaries.format_value(1234, "count") == "1,234"
    assert summaries.format_value(None) == summaries.NOT_AVAILABLE


def test_is_installed_needs_weights_and_card(tmp_path):
    (tmp_path / "tumour_net.json").write_text("{}")
    assert not summaries.is_installed("tumour_net", tmp_path)
    (tmp_path / "tumour_net.keras").write_bytes(b"")
    assert summaries.is_installed("tumour_net", tmp_path)


def test_type_test_table_puts_splits_side_by_side(views):
    table = summaries.classifier_test_table(views["type"])
    assert list(table.columns) == ["Kaggle official test", "Kaggle deduplicated test"]
    assert table.loc["Accuracy", "Kaggle official test"] == pytest.approx(0.952)
    assert table.loc["Images", "Kaggle deduplicated test"] == 80
    assert "F1 pituitary" in table.index


def test_calibration_table_has_validation_and_test_rows(views):
    table = summaries.calibration_table(views["type"])
    assert list(table.index) == ["Validation", "Kaggle official test", "Kaggle deduplicated test"]
    assert table.loc["Validation", "After"] == pytest.approx(0.022)


def test_duplicates_come_from_the_card_as_a_list_or_a_count(cards):
    assert summaries.duplicate_count(cards["tumour_net"]) == 215
    assert summaries.duplicate_count({"data": {"test_duplicates_of_training": 103}}) == 103
    assert "215 byte-identical" in summaries.duplicates_sentence(cards["tumour_net"])
    assert summaries.NOT_AVAILABLE in summaries.duplicates_sentence(None)


def test_trials_table_is_sorted_best_first_with_flat_params(cards):
    table = summaries.trials_table(cards["tumour_net_study"])
    assert table.index[0] == 1 and table.iloc[0]["base_filters"] == 24
    assert table["val_score"].is_monotonic_decreasing
    assert summaries.trials_table({}).empty


def test_operating_point_precision_from_the_confusion_matrix(views):
    point = summaries.operating_point(views["presence"]["test"]["kaggle_official"])
    assert point["precision"] == pytest.approx(94 / 103)
    assert summaries.operating_point({"confusion_matrix": [[5, 0], [5, 0]]})["precision"] is None


def test_presence_table_has_a_row_per_validation_source_and_test_split(views):
    table = summaries.presence_table(views["presence"])
    assert list(table.index) == ["Validation: Kaggle", "Validation: LGG", "Kaggle official test",
                                 "Kaggle deduplicated test", "LGG test patients"]
    assert table.loc["LGG test patients", "AUC"] == pytest.approx(0.874)
    assert list(summaries.presence_table({"validation": presence_view()["test"]["kaggle_official"]}).index) == [
        "Validation"]


def test_segmentation_tables(views):
    card = views["segmentation"]
    assert summaries.segmentation_table(card).loc["BRISC validation", "Mean Dice"] == pytest.approx(0.81)
    groups = summaries.dice_groups_table(card["validation"]["brisc"]["by_plane"])
    assert list(groups.index) == ["axial", "coronal", "sagittal"]
    assert summaries.per_patient_table(card).index.tolist() == ["TCGA_DU_5849", "TCGA_CS_4941"]
    older = {"validation": {"lgg": {"per_patient": [{"patient": "p", "dice_mean": 0.4, "slices": 3}]}}}
    assert summaries.per_patient_table(older).loc["p", "Dice"] == 0.4
    assert summaries.false_positive_table(card).loc["LGG test slices without tumour", "Slices"] == 500
    assert "Kaggle no-tumour test slices" in summaries.false_positive_table(card).index


def test_heatmap_table_marks_the_default(cards):
    table = summaries.heatmap_table(cards["tumour_net"])
    assert table["Default"].tolist() == [True, False]
    assert table.loc[0, "Pointing game"] == pytest.approx(0.8)
    assert summaries.heatmap_table({}).empty


def test_training_sentence_states_epochs_parts_rate_and_the_earlier_stages(cards):
    sentence = summaries.training_sentence(cards["tumour_net"])
    size = cards["tumour_net"]["input"]["size"]
    assert f"4 epochs at {size} px in 2 part(s), 2.0 h" in sentence and "2.0 epochs per hour" in sentence
    assert "seeded by earlier stages of 24 epochs at 192 px (1.4 h)" in sentence
    assert summaries.NOT_AVAILABLE in summaries.training_sentence({})


def test_earlier_stage_table_puts_the_seed_stage_beside_the_shipped_network(cards):
    table = summaries.earlier_stages_table(cards["tumour_net"])
    row = table.set_index("Measure").loc["type accuracy, Kaggle official test"]
    assert row["192 px, 24 epochs"] == pytest.approx(0.9695) and row["Shipped network"] == pytest.approx(0.952)
    assert summaries.earlier_stages_table({}).empty
    commands = summaries.reproduce_commands(cards)["tumour_net"].splitlines()
    assert commands[0].endswith("--image-size=192") and len(commands) == 2


@pytest.mark.parametrize("build", [
    summaries.classifier_test_table, summaries.calibration_table, summaries.trials_table, summaries.presence_table,
    summaries.segmentation_table, summaries.per_patient_table, summaries.false_positive_table,
    lambda card: summaries.dice_groups_table(summaries.dig(card, "by_class")),
])
def test_tables_of_an_empty_card_are_empty_not_errors(build):
    assert build({"task": "unknown"}).empty


def test_missing_cells_stay_numeric(views):
    del views["type"]["test"]["kaggle_deduplicated"]["ece_uncalibrated"]
    table = summaries.classifier_test_table(views["type"])
    assert math.isnan(table.loc["ECE (uncalibrated)", "Kaggle deduplicated test"])
    assert table.dtypes.eq(float).all()


def test_model_card_summaries(cards):
    metrics = summaries.metrics_summary_table(cards, TITLES)
    assert metrics["Model"].tolist().count("Tumour network") == 5
    assert summaries.reproduce_commands(cards)["tumour_net_study"] == "python -m training.tune_tumour_net --trials=3"
    architecture = summaries.architecture_table(cards, TITLES)
    assert architecture["Architecture"].tolist() == ["shared residual encoder, type head, U-Net decoder"]
    assert architecture.loc[0, "Parameters"] == "1,996,933"
    assert "5,140 training" in summaries.split_counts_sentence(cards["tumour_net"])
    assert summaries.metrics_summary_table({}, TITLES)["Value"].eq(summaries.NOT_AVAILABLE).all()


def test_separate_models_table_puts_their_numbers_beside_the_networks(cards):
    table = summaries.separate_models_table(cards["tumour_net"])
    assert table["Measure"].tolist() == ["type accuracy, Kaggle official test", "BRISC validation mean Dice"]
    assert table["Then"].tolist() == [0.948, 0.664] and table["Tumour network"].tolist() == [0.952, 0.81]
    assert summaries.separate_models_table({}).empty


def test_heatmap_sentence_says_what_the_default_map_can_and_cannot_show(cards):
    assert "Grad-CAM" in summaries.heatmap_sentence(cards["tumour_net"])
    attention = {"architecture": {"gradcam_method": "Attention"}}
    assert "by construction" in summaries.heatmap_sentence(attention)
