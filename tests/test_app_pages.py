"""AppTest: every page renders from the cards in a weights folder, complete, incomplete or empty."""

import json
from pathlib import Path

import pytest
from fake_cards import write_fake_cards
from streamlit.testing.v1 import AppTest, app_test

from benchmarks.apptest_support import NavigationPagesManager
from core.models.cards import DATA_ENV, WEIGHTS_ENV
from core.present.summaries import DISCLAIMER

TIMEOUT = 90  # the first run imports TensorFlow through core.models.registry
TEXT_ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "code")
PAGES = ["app_pages/analyse.py", "app_pages/performance.py", "app_pages/model_card.py"]


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


@pytest.fixture
def empty_weights(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


@pytest.fixture
def open_page(monkeypatch):
    """Run app.py on ``page`` with the cards in ``folder``."""
    def run(page: str, folder: Path) -> AppTest:
        monkeypatch.setenv(WEIGHTS_ENV, str(folder))
        return AppTest.from_file("../app.py", default_timeout=TIMEOUT).switch_page(page).run()
    return run


@pytest.fixture
def full_weights(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    write_fake_cards(folder, tmp_path / "data")
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    return folder


def visible_text(at: AppTest) -> str:
    return "\n".join(str(element.value) for kind in TEXT_ELEMENTS for element in at.get(kind))


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


@pytest.mark.parametrize("page", [*PAGES, "app_pages/study.py"])
def test_every_page_renders_without_any_card_and_names_the_training_commands(open_page, empty_weights, page):
    at = open_page(page, empty_weights)
    assert_no_exception(at)
    text = visible_text(at)
    assert DISCLAIMER in [w.value for w in at.sidebar.warning]
    assert "not installed" in text
    assert "python -m training.train_tumour_net" in text


def test_analyse_is_the_default_page(empty_weights, monkeypatch):
    monkeypatch.setenv(WEIGHTS_ENV, str(empty_weights))
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT).run()
    assert_no_exception(at)
    assert at.title[0].value == "Analyse"
    assert DISCLAIMER in [w.value for w in at.sidebar.warning]


@pytest.mark.parametrize("page", PAGES[1:])
def test_pages_render_complete_cards(open_page, full_weights, page):
    at = open_page(page, full_weights)
    assert_no_exception(at)
    text = visible_text(at)
    assert DISCLAIMER in text
    assert "installed, trained 2026-11-22 06:29" in text
    assert "Type accuracy, official test 95.2% · Type macro-F1 0.942" in text
    assert "not installed" not in text
    assert "215 byte-identical copies" in text


def test_performance_page_shows_every_model_section(open_page, full_weights):
    at = open_page("app_pages/performance.py", full_weights)
    text = visible_text(at)
    for heading in ("Training curves", "Calibration", "Hyperparameter study", "Operating point per split",
                    "Overlap with expert masks", "Tumour drawn on slices without tumour"):
        assert heading in text
    assert "Trained for 4 epochs at " in text and "in 2 part(s)" in text and "Grad-CAM at `stage3`" in text
    assert "without regions smaller than 32 pixels" in text
    assert {chart.key for chart in at.get("plotly_chart")} == {
        "type_history_type_loss", "type_history_accuracy", "type_history_macro_f1", "confusion_kaggle_official",
        "confusion_kaggle_deduplicated", "type_roc", "type_per_class", "type_reliability", "study", "presence_roc",
        "presence_pr", "segmentation_history_mask_loss", "segmentation_history_dice", "dice_brisc", "dice_lgg"}
    assert len(at.get("image")) == 2  # the third official mistake is not on disk


def test_performance_page_compares_the_guard_candidates_and_lists_held_out_kinds(open_page, full_weights):
    at = open_page("app_pages/performance.py", full_weights)
    text = visible_text(at)
    assert "Shipped: head, C = 1, chosen because it flags most. Threshold 0.250" in text
    frames = [frame.value for frame in at.dataframe]
    candidates = next(f for f in frames if "Held-out non-brain flagged" in f.columns)
    assert candidates.loc["distances alone", "Development non-brain flagged (source left out)"] == 50.0
    assert candidates.loc["head, C = 1", "Worst brain test set falsely flagged"] == 5.0
    kinds = next(f for f in frames if "Flagged (%)" in f.columns)
    assert kinds.loc["mri knee", "Flagged (%)"] == 91.0
    brains = next(f for f in frames if "Falsely flagged (%)" in f.columns)
    assert brains.loc["Kaggle validation", "ROC AUC"] == 0.99


def test_performance_widgets_switch_normalisation_and_split(open_page, full_weights):
    at = open_page("app_pages/performance.py", full_weights)
    at.toggle(key="confusion_normalise").set_value(True)
    at.selectbox(key="type_split").set_value("kaggle_deduplicated")
    at.selectbox(key="presence_split").set_value("lgg_test_patients")
    at.run()
    assert_no_exception(at)
    assert at.selectbox(key="type_split").value == "kaggle_deduplicated"


def test_model_card_page_lists_recorded_commands(open_page, full_weights):
    at = open_page("app_pages/model_card.py", full_weights)
    codes = [c.value for c in at.code]
    assert "python -m training.tune_tumour_net --trials=3" in codes
    stages = "python -m training.train_tumour_net --image-size=192\npython -m training.train_tumour_net --epochs=3"
    assert stages in codes


def test_gallery_says_why_when_the_data_set_is_elsewhere(open_page, full_weights, tmp_path):
    card = json.loads((full_weights / "tumour_net.json").read_text())
    card["data"]["root"] = "moved"
    (full_weights / "tumour_net.json").write_text(json.dumps(card))
    at = open_page("app_pages/performance.py", full_weights)
    assert_no_exception(at)
    assert f"The data set is not at {tmp_path / 'moved'}" in visible_text(at)


@pytest.mark.parametrize("page", PAGES[1:])
def test_pages_survive_cards_with_missing_parts(open_page, tmp_path, page):
    weights = tmp_path / "partial"
    weights.mkdir()
    for name in ("tumour_net", "tumour_net_study"):
        (weights / f"{name}.json").write_text(json.dumps({"task": name}))
    (weights / "tumour_net.keras").write_bytes(b"")
    at = open_page(page, weights)
    assert_no_exception(at)
    assert "not available" in visible_text(at)
