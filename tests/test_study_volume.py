"""NIfTI studies in their canonical orientation, and the batched analysis: volume in ml, largest slice and diameter,
the study's type, per-slice results equal to the single-slice path, the mask written back in the input's grid.

The tiny network (conftest ``tiny_weights``) outlines pixels brighter than 0.8 after preprocessing and always
reports a glioma, so a bright cube on otherwise blank slices gives a mask of known size.
"""

from __future__ import annotations

import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from fixtures_images import nifti_bytes
from study_builders import (
    CUBE_SLICES,
    CUBE_VOXELS,
    SIZE,
    SLICES,
    cube_slice,
    nifti_study,
    oblique_cosines,
    series_files,
    shuffled,
)

from core.io.errors import InputError
from core.io.read import SliceChoice, read_scan
from core.models.analysis import analyze
from core.models.cards import TUMOUR_NET
from core.models.registry import LoadedModel, load_model
from core.models.tumour import TumourReading
from core.study.analyse import analyse_study, largest_diameter_mm, summarise
from core.study.upload import read_study
from core.study.volume import RAS_ORNT, Volume, mask_image, read_nifti_volume

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model(tiny_weights: Path) -> LoadedModel:
    return load_model(TUMOUR_NET, tiny_weights)


# --- reading NIfTI ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("axcodes", [("R", "A", "S"), ("I", "L", "P"), ("P", "S", "L")])
def test_nifti_study_is_canonical_whatever_the_stored_axis_order(axcodes: tuple[str, str, str]) -> None:
    data = nifti_study(axcodes)[0]
    volume = read_nifti_volume(data, "cube.nii")
    assert volume.geometry_note is None and volume.pixels.shape == (SLICES, SIZE, SIZE)
    assert volume.pixel_spacing_mm == pytest.approx((0.5, 0.8)) and volume.slice_spacing_mm == pytest.approx(2.5)
    assert volume.voxel_volume_ml == pytest.approx(0.001)
    axial = axcodes.index("S") if "S" in axcodes else axcodes.index("I")
    for index in CUBE_SLICES:  # the single-slice path's axial slice at the same height
        stored_index = index if "S" in axcodes else SLICES - 1 - index
        single = read_scan(data, "cube.nii", SliceChoice(axis=axial, index=stored_index))
        np.testing.assert_allclose(volume.pixels[index], single.pixels, atol=1e-6)
        assert single.pixel_spacing_mm == pytest.approx(volume.pixel_spacing_mm)
    assert volume.blank.tolist() == [index not in CUBE_SLICES for index in range(SLICES)]


def test_nifti_study_reads_the_first_time_point_of_a_4d_volume() -> None:
    _, stored, affine = nifti_study()
    series = np.stack([stored, stored[::-1]], axis=-1)
    volume = read_nifti_volume(nifti_bytes(series, affine=affine), "fmri.nii")
    np.testing.assert_array_equal(volume.pixels, read_nifti_volume(nifti_bytes(stored, affine=affine), "a").pixels)


def test_nifti_study_with_a_users_window_and_gzip() -> None:
    _, stored, affine = nifti_study()
    volume = read_study([("cube.nii.gz", nifti_bytes(stored, affine=affine, compressed=True))],
                        choice=SliceChoice(window_center=500.0, window_width=1000.0))
    np.testing.assert_allclose(volume.pixels[3], np.clip(cube_slice(3, big=True) / 1000.0, 0, 1), atol=1e-6)


def test_nifti_without_positive_voxel_size_is_shown_but_not_measured() -> None:
    _, stored, affine = nifti_study()
    image = nib.Nifti1Image(stored, affine)
    image.header.set_zooms((0.8, 0.5, 0.0))
    volume = read_nifti_volume(image.to_bytes(), "flat.nii")
    assert volume.geometry_note == ("The NIfTI header gives no voxel size (pixdim is zero), so the volume is not "
                                    "measured.")
    assert volume.voxel_volume_ml is None and not volume.blank.all()


@pytest.mark.parametrize(("values", "phrase"), [("nan", "NaN or infinite voxel values"),
                                                ("constant", "constant volume with no anatomy")])
def test_unusable_nifti_volume_is_one_sentence(values: str, phrase: str) -> None:
    _, stored, affine = nifti_study()
    stored = stored.copy()
    if values == "nan":
        stored[3, 3, 3] = np.nan
    else:
        stored[:] = 7.0
    with pytest.raises(InputError) as err:
        read_study([("bad.nii", nifti_bytes(stored, affine=affine))])
    message = str(err.value)
    assert phrase in message and "\n" not in message and message.endswith(".")


# --- the analysis -----------------------------------------------------------------------------------------------------


def test_cube_gives_its_volume_in_ml_largest_slice_area_and_diameter(model: LoadedModel) -> None:
    result = analyse_study(read_nifti_volume(nifti_study(("I", "L", "P"))[0], "cube.nii"), model)
    assert result.geometry_note is None and result.voxel_volume_ml == pytest.approx(0.001)
    assert int(result.mask.sum()) == CUBE_VOXELS
    assert result.tumour_volume_ml == pytest.approx(CUBE_VOXELS / 1000)
    assert result.largest_slice == 3
    assert result.largest_area_mm2 == pytest.approx(16 * 15 * 0.5 * 0.8)
    assert result.largest_diameter_mm == pytest.approx(np.hypot(16 * 0.5, 15 * 0.8))
    assert result.type == "glioma" and result.tumour_present
    assert [p is None for p in result.per_slice_tumour_probability] == [i not in CUBE_SLICES for i in range(SLICES)]
    assert result.tumour_probability == max(p for p in result.per_slice_tumour_probability if p is not None)


def test_oblique_dicom_cube_gives_the_same_volume(model: LoadedModel) -> None:
    volume = read_study(shuffled(series_files(orientation=oblique_cosines())), "oblique")
    result = analyse_study(volume, model)
    assert result.tumour_volume_ml == pytest.approx(CUBE_VOXELS / 1000, rel=1e-3)


def test_every_slice_equals_the_single_slice_analysis(model: LoadedModel) -> None:
    data = nifti_study(("P", "S", "L"))[0]
    volume = read_nifti_volume(data, "cube.nii")
    result = analyse_study(volume, model, batch_size=3)  # batches of 3, 1: the partial batch is covered too
    for index in CUBE_SLICES:
        single = analyze(read_scan(data, "cube.nii", SliceChoice(axis=1, index=index)), {TUMOUR_NET: model})
        reading = result.readings[index]
        assert reading.type_probabilities == pytest.approx(single.type_probabilities, abs=1e-6)
        assert reading.tumour_probability == pytest.approx(single.tumour_probability, abs=1e-6)
        assert reading.tumour_present == single.tumour_present
        np.testing.assert_array_equal(reading.mask, single.mask)


def test_geometry_fault_keeps_the_masks_but_measures_nothing(model: LoadedModel) -> None:
    gap = [f for i, f in enumerate(series_files()) if i != 6]
    result = analyse_study(read_study(gap, "gap"), model)
    assert result.geometry_note.startswith("Slices are missing between")
    assert int(result.mask.sum()) == CUBE_VOXELS and result.largest_slice == 3
    assert result.tumour_volume_ml is result.voxel_volume_ml is result.largest_area_mm2 is None
    assert result.largest_diameter_mm is None


def reading(probabilities: list[float], threshold: float = 0.5) -> TumourReading:
    names = ["glioma", "meningioma", "notumor", "pituitary"]
    tumour = 1.0 - probabilities[2]
    return TumourReading(dict(zip(names, probabilities, strict=True)), tumour, tumour >= threshold,
                         np.zeros((SIZE, SIZE), np.uint8))


def plain_volume(count: int) -> Volume:
    return Volume("v", np.zeros((count, SIZE, SIZE), np.float32), np.zeros(count, bool), (1.0, 1.0), 1.0, None,
                  np.eye(4), RAS_ORNT, "NIfTI")


def test_study_type_is_the_tumour_weighted_mean_over_tumour_slices() -> None:
    names = ["glioma", "meningioma", "notumor", "pituitary"]
    readings = [reading([0.6, 0.2, 0.1, 0.1]), reading([0.1, 0.5, 0.4, 0.0]), reading([0.0, 0.03, 0.97, 0.0])]
    result = summarise(plain_volume(3), readings, names)
    expected = (0.9 * np.array([0.6, 0.2, 0.1, 0.1]) + 0.6 * np.array([0.1, 0.5, 0.4, 0.0])) / 1.5
    assert list(result.probabilities.values()) == pytest.approx(expected.tolist())
    assert result.type == "glioma" and result.tumour_probability == pytest.approx(0.9)
    barely = summarise(plain_volume(2), [reading([0.02, 0.08, 0.9, 0.0], 0.05), reading([0.0, 0.03, 0.97, 0.0])],
                       names)
    assert barely.tumour_present and barely.type == "meningioma"  # "no tumour" never outvotes a present tumour
    calm = summarise(plain_volume(2), [reading([0.1, 0.1, 0.7, 0.1]), reading([0.0, 0.1, 0.9, 0.0])], names)
    assert calm.type == "notumor" and not calm.tumour_present and calm.largest_slice is None
    assert list(calm.probabilities.values()) == pytest.approx([0.05, 0.1, 0.8, 0.05])
    assert calm.tumour_volume_ml == 0.0 and calm.largest_diameter_mm is None


def test_largest_diameter_counts_whole_pixels() -> None:
    mask = np.zeros((20, 20), np.uint8)
    mask[5, 5] = 1
    assert largest_diameter_mm(mask, (1.0, 1.0)) == pytest.approx(np.sqrt(2))
    mask[5, 5:15] = 1
    mask[2, 18] = 1  # a second region counts too
    assert largest_diameter_mm(mask, (2.0, 1.0)) == pytest.approx(np.hypot(4 * 2.0, 14.0))


# --- the mask written back ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("axcodes", [("R", "A", "S"), ("I", "L", "P"), ("P", "S", "L")])
def test_mask_round_trip_has_the_inputs_shape_affine_and_voxels(model: LoadedModel,
                                                                 axcodes: tuple[str, str, str]) -> None:
    data, stored, affine = nifti_study(axcodes)
    volume = read_nifti_volume(data, "cube.nii")
    written = nib.Nifti1Image.from_bytes(mask_image(volume, analyse_study(volume, model).mask).to_bytes())
    assert written.shape == stored.shape and written.get_data_dtype() == np.uint8
    np.testing.assert_allclose(written.affine, affine)
    np.testing.assert_array_equal(np.asarray(written.dataobj), (stored == 1000).astype(np.uint8))


def test_dicom_mask_lies_where_the_series_geometry_puts_the_cube(model: LoadedModel) -> None:
    volume = read_study(shuffled(series_files()), "series")
    written = nib.Nifti1Image.from_bytes(mask_image(volume, analyse_study(volume, model).mask).to_bytes())
    assert written.shape == (SIZE, SIZE, 8)
    column, row, slice_index = np.argwhere(np.asarray(written.dataobj))[0]  # the cube's first voxel
    assert (row, column, slice_index) == (20, 24, 2)
    np.testing.assert_allclose(written.affine, volume.affine)


# --- one real LGG patient ---------------------------------------------------------------------------------------------


@pytest.mark.data
def test_lgg_patient_stacked_into_a_volume_matches_its_slices_and_masks() -> None:
    from training.evaluate_volumes import lgg_volume
    from training.tumour_data import LGG_ROOT, list_lgg

    weights = REPO / "weights"
    if not (LGG_ROOT / "slices.csv").exists() or not (weights / "tumour_net.keras").exists():
        pytest.skip("needs ../shared/data/lgg-kaggle_3m and weights/tumour_net.keras")
    started = time.perf_counter()
    slices = list_lgg()
    patient = sorted({s.group for s in slices if s.has_tumour})[0]
    volume, truth = lgg_volume(patient, [s for s in slices if s.group == patient])
    real = load_model(TUMOUR_NET, weights)
    result = analyse_study(volume, real)
    dice = 2 * float((result.mask & truth).sum()) / max(float(result.mask.sum() + truth.sum()), 1.0)
    assert dice > 0.5, dice
    assert result.tumour_present and result.type == "glioma"
    assert result.tumour_volume_ml is None  # LGG slices state no spacing
    for index in np.flatnonzero(~volume.blank)[::5]:
        single = analyze(volume.slice(index), {TUMOUR_NET: real})
        assert result.readings[index].tumour_probability == pytest.approx(single.tumour_probability, abs=1e-4)
        assert (result.readings[index].mask != single.mask).mean() < 1e-3
    assert time.perf_counter() - started < 30


def test_lgg_slices_stack_in_slice_number_order_with_constant_ends_blank(tmp_path: Path) -> None:
    from helpers import brain_slice, write_image

    from training.evaluate_volumes import lgg_volume
    from training.tumour_data import LabelledSlice

    items = []
    for number, pixels in ((10, brain_slice(256, 256, seed=1)), (2, brain_slice(256, 256, seed=2)),
                           (1, np.zeros((256, 256), np.float32))):
        image = write_image(tmp_path / f"P_{number}.png", pixels, "PNG")
        mask = write_image(tmp_path / f"P_{number}_mask.png", (pixels > 0.9).astype(np.float32), "PNG")
        items.append(LabelledSlice(str(image), 0, str(mask), True, "lgg", "P"))
    volume, truth = lgg_volume("P", items)
    assert volume.blank.tolist() == [True, False, False]
    np.testing.assert_array_equal(truth[1], brain_slice(256, 256, seed=2) > 0.9)
    assert volume.voxel_volume_ml is None
