"""The Study page (AppTest) and its view-model: uploads of a NIfTI volume, a DICOM zip, loose files of mixed series,
broken geometry and bad files; a slice browser that never re-analyses; the curve and 3D figures.

The tiny network (conftest ``tiny_weights``) outlines the bright cube of :mod:`study_builders` exactly.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest, app_test
from study_builders import (
    CUBE_SLICES,
    CUBE_VOXELS,
    OTHER_UID,
    SLICES,
    UID,
    nifti_study,
    series_files,
    shuffled,
    zipped,
)

from benchmarks.apptest_support import NavigationPagesManager
from core.models.cards import TUMOUR_NET, WEIGHTS_ENV
from core.models.registry import load_model
from core.present.figures import make_slice_curve_figure, make_surface_figure
from core.study import view as sv
from core.study.upload import ACCEPTED_STUDY, read_study

TIMEOUT = 90  # the first run imports TensorFlow and loads the network
PAGE = "app_pages/study.py"
CUBE = [("cube.nii", nifti_study(("I", "L", "P"))[0])]
GAP_NOTE_START = "Slices are missing between"


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


@pytest.fixture
def open_page(monkeypatch, tiny_weights):
    def run(folder: Path = tiny_weights) -> AppTest:
        monkeypatch.setenv(WEIGHTS_ENV, str(folder))
        return AppTest.from_file("../app.py", default_timeout=TIMEOUT).switch_page(PAGE).run()
    return run


@pytest.fixture(scope="module")
def cube_view(tiny_weights: Path) -> sv.StudyView:
    return sv.open_study(CUBE, load_model(TUMOUR_NET, tiny_weights))


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader(key="upload_study").set_value([(name, data, "application/octet-stream") for name, data in files])
    return at.run()


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.proto.delta) for metric in at.metric}


def captions(at: AppTest) -> list[str]:
    return [caption for image in at.get("image") for caption in image.captions]


def slice_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Slice "))


# --- the page -------------------------------------------------------------------------------------------------------


def test_without_upload_one_sentence_says_what_to_upload(open_page):
    at = open_page()
    assert_no_exception(at)
    assert at.title[0].value == "Study"
    assert [info.value for info in at.main.info] == [
        f"Upload {ACCEPTED_STUDY} to see the tumour volume, every slice and a 3D view."]


def test_without_the_network_one_sentence_names_the_training_command(open_page, tmp_path):
    at = open_page(tmp_path)
    assert_no_exception(at)
    assert len(at.main.info) == 1 and "train_tumour_net" in at.main.info[0].value
    assert not at.get("file_uploader")


@pytest.mark.parametrize("files", [CUBE, [("series.zip", zipped(shuffled(series_files())))]], ids=["nifti", "zip"])
def test_study_shows_volume_largest_slice_type_curve_and_3d_view(open_page, files):
    at = upload(open_page(), files)
    assert_no_exception(at)
    shown = metrics(at)
    assert shown["Tumour volume"] == (f"{CUBE_VOXELS / 1000:.2f} ml", f"{CUBE_VOXELS} voxels")
    assert shown["Voxel volume"][0] == "0.001 ml"
    assert shown["Slices"] == ("8", "4 analysed, 4 blank")
    assert shown["Largest tumour slice"] == ("slice 3", "96.0 mm², largest diameter 14.4 mm")
    assert shown["Tumour type"][0] == "glioma" and shown["Highest tumour probability"][1] == "on slice 3"
    assert not at.main.warning
    assert slice_caption(at).startswith("Slice 3 (0 to 7): tumour present")
    assert captions(at) == ["Slice 3", "Tumour region (red)"]
    assert len(at.get("plotly_chart")) == 3  # type probabilities, the curve, the 3D view
    assert [button.key for button in at.get("download_button")] == ["download_study_pdf"]


def test_broken_geometry_shows_its_sentence_and_no_volume_numbers(open_page):
    files = shuffled([f for i, f in enumerate(series_files()) if i != 6])
    note = read_study(files).geometry_note
    at = upload(open_page(), files)
    assert_no_exception(at)
    assert note.startswith(GAP_NOTE_START) and [w.value for w in at.main.warning] == [note]
    shown = metrics(at)
    assert "Tumour volume" not in shown and "Voxel volume" not in shown
    assert shown["Largest tumour slice"] == ("slice 3", "240 px")
    assert not any("ml" in value or "mm" in detail for value, detail in shown.values())


def test_mixed_series_are_offered_by_description_and_image_count(open_page):
    at = upload(open_page(), shuffled(series_files() + series_files(5, uid=OTHER_UID, description="SAG T1")))
    assert_no_exception(at)
    picker = at.selectbox(key="study_series")
    assert sorted(picker.options) == [f"AX FLAIR · 8 images · UID …{UID[-8:]}",
                                      f"SAG T1 · 5 images · UID …{OTHER_UID[-8:]}"]
    assert at.main.info[-1].value == "Choose a series to see its tumour volume, every slice and a 3D view."
    assert not at.metric
    picker.set_value(OTHER_UID).run()
    assert_no_exception(at)
    assert metrics(at)["Slices"][0] == "5"


@pytest.mark.parametrize(("files", "phrase"), [
    ([("notes.txt", b"patient notes, not an image\n")], "notes.txt holds no DICOM images or NIfTI volume"),
    ([("study.zip", b"PK\x03\x04 truncated")], "study.zip could not be decoded as a ZIP archive"),
    ([("cut.nii", CUBE[0][1][:400])], "cut.nii"),
])
def test_bad_upload_is_one_sentence(open_page, files, phrase):
    at = upload(open_page(), files)
    assert_no_exception(at)
    (error,) = at.error
    assert error.value.startswith(phrase) and error.value.endswith(".") and "\n" not in error.value
    assert not at.metric


def test_slider_and_toggles_redraw_the_slice_without_analysing_again(open_page, monkeypatch):
    calls = []
    real = sv.open_study

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sv, "open_study", counted)
    at = upload(open_page(), CUBE)
    slider = at.slider(key=f"study_slice_{sv.upload_key(CUBE)[:16]}")
    assert slider.value == 3 and len(calls) == 1
    started = time.perf_counter()
    slider.set_value(2).run()
    move_ms = (time.perf_counter() - started) * 1000
    assert_no_exception(at)
    assert slice_caption(at).startswith("Slice 2 (0 to 7)") and captions(at)[0] == "Slice 2"
    at.toggle(key="study_overlay").set_value(False).run()
    assert captions(at)[1] == "Tumour region (overlay off)"
    at.toggle(key="study_heatmap").set_value(True).run()
    assert_no_exception(at)
    assert captions(at)[2] == "Where the network looked (Grad-CAM++)"
    at.slider(key=f"study_slice_{sv.upload_key(CUBE)[:16]}").set_value(0).run()
    assert_no_exception(at)
    assert [info.value for info in at.main.info] == [sv.BLANK_NOTE]
    assert len(calls) == 1, "a slider move or toggle analysed the study again"
    print(f"AppTest slider move: {move_ms:.0f} ms")
    at.file_uploader(key="upload_study").set_value([]).run()
    assert "study_view" not in at.session_state  # a removed upload frees its study


# --- the view-model and its figures --------------------------------------------------------------------------------


def test_curve_has_a_gap_per_blank_slice_the_threshold_and_the_shown_slice(cube_view):
    fig = make_slice_curve_figure(cube_view.result.per_slice_tumour_probability, 0.5, shown=4)
    (curve,) = fig.data
    assert list(curve.x) == list(range(SLICES))
    assert [y is None for y in curve.y] == [i not in CUBE_SLICES for i in range(SLICES)]
    lines = {(shape.x0, shape.x1, shape.y0, shape.y1) for shape in fig.layout.shapes}
    assert (0, 1, 0.5, 0.5) in lines and (4, 4, 0, 1) in lines
    assert "presence threshold 50.0%" in {a.text for a in fig.layout.annotations}
    assert make_slice_curve_figure([None, None]).layout.annotations[0].text == "Not available in this model card"


def test_3d_view_puts_the_tumour_where_the_cube_is_inside_the_head(cube_view):
    head, tumour = cube_view.surface_figure.data
    assert (head.name, tumour.name) == ("head", "tumour") and head.opacity < 0.5 and tumour.opacity == 1
    extent = {axis: (min(getattr(tumour, axis)), max(getattr(tumour, axis))) for axis in "xyz"}
    # the big square: columns 24-38 at 0.8 mm, rows 20-35 at 0.5 mm; slices 2-5 at 2.5 mm, half a voxel beyond each
    assert extent["x"] == pytest.approx((23.5 * 0.8, 38.5 * 0.8), abs=0.05)
    assert extent["y"] == pytest.approx((19.5 * 0.5, 35.5 * 0.5), abs=0.05)
    assert extent["z"] == pytest.approx((1.5 * 2.5, 5.5 * 2.5), abs=0.05)
    for axis in "xyz":  # the head (columns and rows 8-55) encloses it; both span the same slices
        assert min(getattr(head, axis)) <= extent[axis][0] and max(getattr(head, axis)) >= extent[axis][1]
    assert min(head.x) < 9 * 0.8 and max(head.x) > 54 * 0.8
    assert max(max(face) for face in (tumour.i, tumour.j, tumour.k)) < len(tumour.x)


def test_3d_view_without_a_tumour_shows_the_head_and_says_so(cube_view):
    head = sv.head_surface(cube_view.volume.pixels, (2.5, 0.5, 0.8))
    assert sv.tumour_surface(np.zeros((4, 8, 8), np.uint8), (1, 1, 1)) is None
    fig = make_surface_figure(head, None)
    assert [trace.name for trace in fig.data] == ["head"]
    assert fig.layout.title.text.endswith("no tumour outlined")


def test_key_slices_are_the_largest_and_its_neighbours_within_the_stack(cube_view):
    assert sv.key_slices(cube_view.result) == [2, 3, 4]
    assert [p.caption for p in sv.slice_panels(cube_view, 0)] == ["Slice 0", "Tumour region"]


def test_a_slider_move_costs_far_less_than_the_target(cube_view):
    timing = sv.benchmark_study_view(cube_view, moves=5)
    assert timing["moves"] == 5 and 0 < timing["median_ms"] <= timing["max_ms"]
    assert timing["target_ms"] == sv.SLIDER_TARGET_MS
