"""DICOM series read as one study: order along the normal, geometry and its faults, zips, mixed series, LUTs.

Every series is built in memory by :mod:`study_builders`; nothing is read from disk.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from fixtures_images import dicom_bytes, gradient
from pydicom.dataset import Dataset
from study_builders import (
    AXIAL,
    CUBE_SLICES,
    ORIGIN,
    OTHER_UID,
    PIXEL_SPACING,
    SIZE,
    STEP,
    UID,
    cube_slice,
    oblique_cosines,
    series_files,
    shuffled,
    zipped,
)

from core.io.errors import InputError
from core.io.read import SliceChoice, read_scan
from core.io.scan import to_unit_range
from core.study.series import SeriesChoiceError
from core.study.upload import list_series, read_study


def one_sentence(text: str | None) -> str:
    assert text is not None and "\n" not in text and text.endswith(".") and text.count(". ") == 0, text
    return text


def ras(point_lps: np.ndarray) -> np.ndarray:
    return np.array([-point_lps[0], -point_lps[1], point_lps[2]])


# --- order and geometry ------------------------------------------------------------------------------------------


def test_shuffled_files_are_put_in_order_along_the_normal_and_equal_their_single_slice_reading() -> None:
    files = series_files()
    volume = read_study(shuffled(files), "series")
    assert volume.geometry_note is None and volume.source_format == "DICOM"
    assert volume.pixels.shape == (8, SIZE, SIZE)
    for index, (name, data) in enumerate(files):
        if index in CUBE_SLICES:
            np.testing.assert_array_equal(volume.pixels[index], read_scan(data, name).pixels)
    assert volume.blank.tolist() == [i not in CUBE_SLICES for i in range(8)]
    assert volume.pixel_spacing_mm == PIXEL_SPACING
    assert volume.slice_spacing_mm == pytest.approx(STEP)
    assert volume.voxel_volume_ml == pytest.approx(0.001)


def test_affine_maps_voxels_to_the_dicom_positions_in_ras() -> None:
    volume = read_study(shuffled(series_files()), "series")
    for slice_index in (0, 7):
        expected = ras(ORIGIN + slice_index * STEP * np.array([0, 0, 1.0]))
        np.testing.assert_allclose((volume.affine @ [0, 0, slice_index, 1])[:3], expected, atol=1e-4)
    column, row = 10, 4  # voxel (column, row, slice): along the row cosine by column spacing, down by row spacing
    expected = ras(ORIGIN + np.array([column * PIXEL_SPACING[1], row * PIXEL_SPACING[0], 0.0]))
    np.testing.assert_allclose((volume.affine @ [column, row, 0, 1])[:3], expected, atol=1e-4)


def test_oblique_series_is_ordered_and_measured_along_its_own_normal() -> None:
    cosines = oblique_cosines()
    files = series_files(orientation=cosines)
    volume = read_study(shuffled(files, seed=3), "oblique")
    assert volume.geometry_note is None
    assert volume.slice_spacing_mm == pytest.approx(STEP, abs=1e-3)
    for index in CUBE_SLICES:
        np.testing.assert_array_equal(volume.pixels[index], read_scan(files[index][1], "s").pixels)
    normal = np.cross(np.array(cosines[:3]), np.array(cosines[3:]))
    np.testing.assert_allclose(volume.affine[:3, 2], ras(STEP * normal), atol=1e-3)
    assert abs(np.linalg.det(volume.affine[:3, :3])) / 1000 == pytest.approx(volume.voxel_volume_ml, rel=1e-3)


def test_enhanced_multi_frame_file_gives_one_slice_per_frame_from_its_functional_groups() -> None:
    count = 6
    frames = np.stack([cube_slice(index) for index in range(count)])[::-1]  # stored head first
    orientation, measures = Dataset(), Dataset()
    orientation.ImageOrientationPatient = list(AXIAL)
    measures.PixelSpacing, measures.SliceThickness = list(PIXEL_SPACING), 2.0
    shared = Dataset()
    shared.PlaneOrientationSequence, shared.PixelMeasuresSequence = [orientation], [measures]
    per_frame = []
    for stored in range(count):
        position, item = Dataset(), Dataset()
        position.ImagePositionPatient = [*ORIGIN[:2], ORIGIN[2] + (count - 1 - stored) * STEP]
        item.PlanePositionSequence = [position]
        per_frame.append(item)
    data = dicom_bytes(frames, SeriesInstanceUID=UID, SharedFunctionalGroupsSequence=[shared],
                       PerFrameFunctionalGroupsSequence=per_frame)
    volume = read_study([("enhanced.dcm", data)])
    assert volume.geometry_note is None and volume.slice_spacing_mm == pytest.approx(STEP)
    for index in CUBE_SLICES:  # foot first: frame count-1-index of the file
        expected = read_scan(data, "enhanced.dcm", SliceChoice(frame=count - 1 - index)).pixels
        np.testing.assert_array_equal(volume.pixels[index], expected)


# --- broken geometry: shown, not measured, one sentence each ------------------------------------------------------


def without_position(files: list[tuple[str, bytes]], index: int) -> list[tuple[str, bytes]]:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(files[index][1]))
    del ds.ImagePositionPatient
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return [*files[:index], (files[index][0], buffer.getvalue()), *files[index + 1 :]]


def mixed_spacing(files: list[tuple[str, bytes]], index: int) -> list[tuple[str, bytes]]:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(files[index][1]))
    ds.PixelSpacing = [0.6, 0.9]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return [*files[:index], (files[index][0], buffer.getvalue()), *files[index + 1 :]]


BROKEN = {
    "gap": (lambda: [f for i, f in enumerate(series_files()) if i != 4], "Slices are missing between"),
    "duplicated position": (lambda: [*series_files(), (series_files()[3][0] + "-copy", series_files()[3][1])],
                            "a slice is duplicated"),
    "varying spacing": (lambda: series_files(steps=[2.5, 2.5, 1.7, 3.1, 2.5, 2.5, 2.5]), "The slice spacing varies"),
    "missing ImagePositionPatient": (lambda: without_position(series_files(), 2),
                                     "1 of 8 slices have no ImagePositionPatient"),
    "differing orientation": (lambda: series_files()[:4] + series_files(orientation=oblique_cosines())[4:],
                              "do not share one orientation"),
    "differing pixel size": (lambda: mixed_spacing(series_files(), 5), "do not share one pixel size"),
    "single slice": (lambda: series_files()[3:4], "a single slice"),
}


@pytest.mark.parametrize("fault", list(BROKEN))
def test_broken_geometry_is_shown_but_not_measured_with_one_sentence(fault: str) -> None:
    build, phrase = BROKEN[fault]
    files = build()
    volume = read_study(shuffled(files, seed=5), "broken")
    assert phrase in one_sentence(volume.geometry_note), volume.geometry_note
    assert volume.geometry_note.endswith("the volume is not measured.") or "it is not measured." in volume.geometry_note
    assert len(volume.pixels) == len(files) and not volume.blank.all()
    assert volume.voxel_volume_ml is None and volume.affine is None


def test_gap_sentence_names_where_and_how_large() -> None:
    volume = read_study([f for i, f in enumerate(series_files()) if i != 4], "gap")
    assert volume.geometry_note == ("Slices are missing between 37.5 and 42.5 mm along the slice normal (a gap of 5 mm "
                                    "where the others are 2.5 mm apart), so the volume is not measured.")


def test_series_without_positions_is_shown_in_instance_number_order() -> None:
    files = series_files()
    for index in range(len(files)):
        files = without_position(files, index)
    volume = read_study(shuffled(files), "unplaced")
    assert volume.geometry_note.startswith("8 of 8 slices have no ImagePositionPatient")
    for index in CUBE_SLICES:
        np.testing.assert_array_equal(volume.pixels[index], read_scan(files[index][1], "s").pixels)


def test_slices_of_different_sizes_are_refused_in_one_sentence() -> None:
    files = series_files()
    files[2] = ("small", dicom_bytes(np.ones((48, 48), np.uint16), SeriesInstanceUID=UID))
    with pytest.raises(InputError) as err:
        read_study(files, "sizes")
    assert "mixes slices of 48 x 48 and 64 x 64 pixels" in one_sentence(str(err.value))


def test_a_corrupt_file_of_the_series_is_named() -> None:
    files = series_files()
    files[1] = (files[1][0], files[1][1][:-100])  # the pixel data cut short
    with pytest.raises(InputError) as err:
        read_study(files, "series")
    assert one_sentence(str(err.value)).startswith("IM0001 ")


# --- uploads: zips and mixed series ---------------------------------------------------------------------------------


def test_zip_of_a_series_reads_like_its_files() -> None:
    files = shuffled(series_files())
    from_zip = read_study([("study.zip", zipped(files))])
    np.testing.assert_array_equal(from_zip.pixels, read_study(files, "series").pixels)
    assert from_zip.name == "study.zip" and from_zip.geometry_note is None


def test_mixed_series_are_listed_and_the_chosen_one_is_read() -> None:
    first, second = series_files(8), series_files(5, uid=OTHER_UID, description="SAG T1")
    upload = shuffled(first + second)
    assert sorted((s.uid, s.description, s.slices) for s in list_series(upload)) == [
        (UID, "AX FLAIR", 8), (OTHER_UID, "SAG T1", 5)]
    with pytest.raises(SeriesChoiceError) as err:
        read_study(upload, "mixed")
    assert "holds 2 DICOM series" in one_sentence(str(err.value)) and len(err.value.series) == 2
    assert len(read_study(upload, "mixed", series_uid=OTHER_UID).pixels) == 5
    with pytest.raises(InputError) as unknown:
        read_study(upload, "mixed", series_uid="9.9")
    assert "no DICOM series with UID 9.9" in one_sentence(str(unknown.value))


def test_upload_without_images_is_one_sentence() -> None:
    with pytest.raises(InputError) as err:
        read_study([("notes.txt", b"not an image\n")])
    assert "holds no DICOM images or NIfTI volume" in one_sentence(str(err.value))
    with pytest.raises(InputError) as corrupt:
        read_study([("study.zip", b"PK\x03\x04 truncated")])
    assert "could not be decoded as a ZIP archive" in one_sentence(str(corrupt.value))


# --- grayscale pipeline: LUT sequences, SIGMOID, user window -------------------------------------------------------

STORED = (gradient(SIZE, SIZE) * 1000).astype(np.uint16)


def lut_item(entries: int, bits: int, values: np.ndarray) -> Dataset:
    item = Dataset()
    item.add_new("LUTDescriptor", "US", [entries, 0, bits])
    item.add_new("LUTData", "US", [int(v) for v in values])
    return item


def test_voi_lut_sequence_is_applied_and_scaled_by_its_depth() -> None:
    lut = np.round(np.sqrt(np.arange(1024) / 1023) * 4095).astype(int)
    data = dicom_bytes(STORED, VOILUTSequence=[lut_item(1024, 12, lut)], WindowCenter=100, WindowWidth=50)
    expected = lut[STORED] / 4095
    np.testing.assert_allclose(read_scan(data, "lut.dcm").pixels, expected, atol=1e-6)
    series = [(n, dicom_bytes(STORED, VOILUTSequence=[lut_item(1024, 12, lut)], ImagePositionPatient=[0, 0, z],
                              ImageOrientationPatient=list(AXIAL), PixelSpacing=[1, 1], SeriesInstanceUID=UID))
              for n, z in (("a", 0), ("b", 1))]
    np.testing.assert_allclose(read_study(series, "lut").pixels[1], expected, atol=1e-6)


def test_modality_lut_sequence_is_applied_before_scaling() -> None:
    lut = np.arange(1024) * 3 + 7
    data = dicom_bytes(STORED, ModalityLUTSequence=[lut_item(1024, 16, lut)])
    np.testing.assert_allclose(read_scan(data, "modality.dcm").pixels, to_unit_range(lut[STORED]), atol=1e-6)


def test_sigmoid_voi_function_is_not_treated_as_linear() -> None:
    data = dicom_bytes(STORED, WindowCenter=500, WindowWidth=400, VOILUTFunction="SIGMOID")
    expected = 1 / (1 + np.exp(-4 * (STORED.astype(float) - 500) / 400))
    np.testing.assert_allclose(read_scan(data, "sigmoid.dcm").pixels, expected, atol=1e-5)


def test_users_window_overrides_the_files_voi_on_every_slice() -> None:
    files = series_files(WindowCenter=100, WindowWidth=10, VOILUTFunction="SIGMOID")
    volume = read_study(files, "series", choice=SliceChoice(window_center=500.0, window_width=1000.0))
    np.testing.assert_allclose(volume.pixels[3], np.clip(cube_slice(3, big=True) / 1000.0, 0, 1), atol=1e-6)
