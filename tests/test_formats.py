"""Clinical formats through ``read_scan``: DICOM, NIfTI, BraTS .h5 and figshare .mat, each built in the test."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
import pytest
from fixtures_images import brats_bytes, dicom_bytes, figshare_bytes, gradient, nifti_bytes
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGLossless

from core.io.errors import InputError
from core.io.read import SliceChoice, describe_volume, read_scan
from core.io.scan import to_unit_range


def one_sentence(err: pytest.ExceptionInfo[InputError]) -> str:
    message = str(err.value)
    assert "\n" not in message and message.endswith("."), message
    return message


def rescaled(data: bytes, **changes: object) -> bytes:
    """``data`` re-saved with DICOM attributes changed (pydicom keeps everything else as written)."""
    ds = dcmread(io.BytesIO(data))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# --- DICOM -------------------------------------------------------------------------------------------------------

STORED = (gradient() * 1000).astype(np.uint16)


def test_dicom_rescale_then_file_window_gives_display_values() -> None:
    data = dicom_bytes(RescaleSlope=2, RescaleIntercept=-100, WindowCenter=900, WindowWidth=600)
    scan = read_scan(data, "slice.dcm")
    expected = np.clip((STORED * 2.0 - 100 - (900 - 300)) / 600, 0, 1)
    np.testing.assert_allclose(scan.pixels, expected, atol=1e-5)
    assert scan.source_format == "DICOM" and scan.mask is None


def test_dicom_user_window_overrides_the_files_window() -> None:
    data = dicom_bytes(WindowCenter=[900, 400], WindowWidth=[600, 200])
    scan = read_scan(data, "slice.dcm", SliceChoice(window_center=500.0, window_width=1000.0))
    np.testing.assert_allclose(scan.pixels, np.clip(STORED / 1000.0, 0, 1), atol=1e-5)


def test_dicom_without_window_is_scaled_by_min_and_max() -> None:
    np.testing.assert_allclose(read_scan(dicom_bytes(), "slice.dcm").pixels, to_unit_range(STORED), atol=1e-6)


def test_dicom_monochrome1_is_inverted() -> None:
    normal = read_scan(dicom_bytes(), "m2.dcm").pixels
    inverted = read_scan(dicom_bytes(PhotometricInterpretation="MONOCHROME1"), "m1.dcm").pixels
    np.testing.assert_allclose(normal + inverted, 1.0, atol=1e-6)


def test_dicom_colour_secondary_capture_becomes_gray() -> None:
    rgb = np.stack([STORED // 4, STORED // 4, STORED // 4], axis=-1).astype(np.uint8)
    ds = dcmread(io.BytesIO(dicom_bytes()))
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = rgb.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    scan = read_scan(buffer.getvalue(), "capture.dcm")
    np.testing.assert_allclose(scan.pixels, to_unit_range(rgb[..., 0]), atol=1e-5)


def test_dicom_pixel_spacing_is_row_then_column_mm() -> None:
    assert read_scan(dicom_bytes(PixelSpacing=[0.5, 0.75]), "s.dcm").pixel_spacing_mm == (0.5, 0.75)
    assert read_scan(dicom_bytes(), "s.dcm").pixel_spacing_mm is None


def test_dicom_multi_frame_defaults_to_middle_frame_and_reads_the_chosen_one() -> None:
    frames = np.stack([np.roll(STORED, 10 * i, axis=1) for i in range(5)])
    data = dicom_bytes(frames)
    info = describe_volume(data, "cine.dcm")
    assert info is not None and info.frames == 5 and info.shape == (5, *STORED.shape)
    assert info.default == SliceChoice(frame=2)
    for frame in (2, 4):
        expected = to_unit_range(frames[frame])
        chosen = SliceChoice(frame=frame) if frame != 2 else None
        np.testing.assert_allclose(read_scan(data, "cine.dcm", chosen).pixels, expected, atol=1e-6)
    with pytest.raises(InputError) as err:
        read_scan(data, "cine.dcm", SliceChoice(frame=5))
    assert "from 0 to 4" in one_sentence(err)


def test_dicom_enhanced_functional_groups_give_spacing_and_rescale() -> None:
    frames = np.stack([STORED, STORED])
    measures, transform = Dataset(), Dataset()
    measures.PixelSpacing = [0.9, 0.8]
    transform.RescaleSlope, transform.RescaleIntercept = 1, 0
    shared, first, second = Dataset(), Dataset(), Dataset()
    shared.PixelMeasuresSequence = [measures]
    first.PixelValueTransformationSequence = [transform]
    window = Dataset()
    window.WindowCenter, window.WindowWidth = 250, 500
    second.FrameVOILUTSequence = [window]
    data = dicom_bytes(frames, SharedFunctionalGroupsSequence=[shared],
                       PerFrameFunctionalGroupsSequence=[first, second])
    scan = read_scan(data, "enhanced.dcm", SliceChoice(frame=1))
    assert scan.pixel_spacing_mm == (0.9, 0.8)
    np.testing.assert_allclose(scan.pixels, np.clip(STORED / 500.0, 0, 1), atol=1e-5)


def test_dicom_without_preamble_is_read_like_a_part10_file() -> None:
    bare = dicom_bytes(preamble=False)
    assert bare[128:132] != b"DICM"
    np.testing.assert_allclose(read_scan(bare, "IM0001").pixels, to_unit_range(STORED), atol=1e-6)


def test_dicom_without_pixel_data_is_refused() -> None:
    ds = dcmread(io.BytesIO(dicom_bytes()))
    del ds.PixelData
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    with pytest.raises(InputError) as err:
        read_scan(buffer.getvalue(), "report.dcm")
    assert "without image data" in one_sentence(err)


def test_dicom_huge_header_dimensions_are_refused_before_decoding() -> None:
    data = rescaled(dicom_bytes(), Rows=60_000, Columns=60_000)  # the pixel data stays 48 x 64
    with pytest.raises(InputError) as err:
        describe_volume(data, "huge.dcm")
    assert "too large" in one_sentence(err)
    frames = rescaled(dicom_bytes(), Rows=4000, Columns=4000, NumberOfFrames=100)
    with pytest.raises(InputError) as err:
        read_scan(frames, "many.dcm")
    assert "million voxels" in one_sentence(err)


def test_dicom_with_a_compression_we_cannot_decode_names_it() -> None:
    ds = dcmread(io.BytesIO(dicom_bytes()))
    ds.file_meta.TransferSyntaxUID = JPEGLossless
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xd9"])
    ds["PixelData"].VR, ds["PixelData"].is_undefined_length = "OB", True
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    with pytest.raises(InputError) as err:
        read_scan(buffer.getvalue(), "lossless.dcm")
    assert "JPEG Lossless" in one_sentence(err)


def test_truncated_dicom_is_one_sentence() -> None:
    data = dicom_bytes()
    for cut in (100, 140, 400, len(data) - 100):
        with pytest.raises(InputError) as err:
            read_scan(data[:cut], "cut.dcm")
        one_sentence(err)


# --- NIfTI -------------------------------------------------------------------------------------------------------

def marked_volume(shape: tuple[int, int, int] = (40, 50, 36)) -> np.ndarray:
    """Noise with one bright voxel at the patient's right-anterior corner of the middle axial slice (RAS voxels)."""
    volume = np.random.default_rng(6).random(shape).astype(np.float32) * 0.5
    volume[-2, -2, shape[2] // 2] = 10.0
    return volume


def test_nifti_default_is_the_middle_axial_slice_in_radiological_view() -> None:
    scan = read_scan(nifti_bytes(marked_volume(), zooms=(1.5, 2.0, 3.0)), "brain.nii")
    assert scan.pixels.shape == (50, 40)  # rows run anterior to posterior, columns right to left
    assert np.unravel_index(np.argmax(scan.pixels), scan.pixels.shape) == (1, 1)
    assert scan.pixel_spacing_mm == (2.0, 1.5)
    assert scan.source_format == "NIfTI"


def test_nifti_gz_reads_like_nii() -> None:
    volume = marked_volume()
    plain = read_scan(nifti_bytes(volume), "brain.nii").pixels
    np.testing.assert_array_equal(read_scan(nifti_bytes(volume, compressed=True), "brain.nii.gz").pixels, plain)


def test_nifti_flipped_voxel_order_shows_the_same_view() -> None:
    volume = marked_volume()
    flip_x = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip_x[0, 3] = volume.shape[0] - 1
    ras = read_scan(nifti_bytes(volume), "ras.nii").pixels
    las = read_scan(nifti_bytes(volume[::-1].copy(), affine=flip_x), "las.nii").pixels
    np.testing.assert_array_equal(las, ras)


def test_nifti_describe_names_planes_and_any_axis_can_be_sliced() -> None:
    volume = marked_volume()
    data = nifti_bytes(volume)
    info = describe_volume(data, "brain.nii")
    assert info is not None
    assert info.axes == ("sagittal", "coronal", "axial") and info.slice_axes == (0, 1, 2)
    assert info.default == SliceChoice(axis=2, index=18, frame=0)
    sagittal = read_scan(data, "brain.nii", SliceChoice(axis=0, index=7)).pixels
    assert sagittal.shape == (36, 50)  # rows superior to inferior, columns anterior to posterior
    np.testing.assert_allclose(sagittal, to_unit_range(volume[7].T[::-1, ::-1]), atol=1e-6)


def test_nifti_2d_image_is_a_plain_slice() -> None:
    data = nifti_bytes(gradient().astype(np.float32), zooms=(0.5, 0.5))
    assert describe_volume(data, "slice.nii") is None
    assert read_scan(data, "slice.nii").pixels.shape == gradient().shape[::-1]


def test_nifti_4d_time_points_are_frames() -> None:
    series = np.stack([marked_volume() * (t + 1) + t for t in range(3)], axis=-1)
    series[0, 0, 18, 2] = -50.0  # changes the min-max scaling of time point 2 only
    data = nifti_bytes(series)
    info = describe_volume(data, "fmri.nii.gz")
    assert info is not None and info.frames == 3 and info.axes[3] == "time"
    first = read_scan(data, "fmri.nii.gz").pixels
    last = read_scan(data, "fmri.nii.gz", SliceChoice(frame=2)).pixels
    assert not np.allclose(first, last)


def test_nifti_user_window_is_in_stored_units() -> None:
    values = np.linspace(0, 200, 40, dtype=np.float32)
    volume = np.tile(values[:, None, None], (1, 40, 3))  # x runs 0 to 200
    scan = read_scan(nifti_bytes(volume), "ct.nii", SliceChoice(window_center=100.0, window_width=100.0))
    expected = np.clip((values - 50) / 100, 0, 1)[::-1]  # columns run from the patient's right (high x)
    np.testing.assert_allclose(scan.pixels, np.tile(expected, (40, 1)), atol=1e-6)


def test_nifti_huge_header_is_refused_without_reading_voxels() -> None:
    for shape, expected in [((6000, 6000, 5000), "million voxels"), ((7000, 7000, 1), "too large")]:
        header = nib.Nifti1Header()
        header.set_data_shape(shape)
        header.set_data_dtype(np.uint8)
        header["vox_offset"] = 352
        data = header.binaryblock + bytes(4) + bytes(1000)
        with pytest.raises(InputError) as err:
            read_scan(gzip.compress(data), "huge.nii.gz")
        assert expected in one_sentence(err)


def test_nifti_truncated_files_are_one_sentence() -> None:
    data = nifti_bytes(marked_volume())
    with pytest.raises(InputError) as err:
        read_scan(data[: len(data) // 2], "cut.nii")
    assert "truncated" in one_sentence(err)
    compressed = gzip.compress(data)
    with pytest.raises(InputError) as err:
        read_scan(compressed[: len(compressed) // 2], "cut.nii.gz")
    assert "truncated" in one_sentence(err)


def test_nifti_nan_voxels_are_refused() -> None:
    volume = marked_volume()
    volume[:, :, 18] = np.nan
    with pytest.raises(InputError) as err:
        read_scan(nifti_bytes(volume), "nan.nii")
    assert "NaN" in one_sentence(err)


# --- BraTS .h5 and figshare .mat ------------------------------------------------------------------------------

def brats_slice() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    image = np.stack([gradient() * (c + 1) + rng.normal(0, 0.01, gradient().shape) for c in range(4)], axis=-1)
    image[..., 2] = np.fliplr(image[..., 2])
    mask = np.zeros((*gradient().shape, 3), dtype=np.uint8)
    mask[10:20, 10:20, 0] = 1  # necrotic core
    mask[30:40, 40:50, 2] = 1  # enhancing tumour
    return image, mask


def test_brats_h5_reads_the_chosen_channel_and_merges_mask_regions() -> None:
    image, mask = brats_slice()
    data = brats_bytes(image, mask)
    scan = read_scan(data, "volume_1_slice_75.h5", SliceChoice(channel=2))
    np.testing.assert_allclose(scan.pixels, to_unit_range(image[..., 2]), atol=1e-6)
    assert scan.mask is not None and scan.mask.dtype == np.uint8
    np.testing.assert_array_equal(scan.mask, mask.any(axis=-1))
    assert scan.source_format == "BraTS HDF5"


def test_brats_h5_describe_offers_four_channels_and_defaults_to_the_first() -> None:
    image, mask = brats_slice()
    data = brats_bytes(image, mask)
    info = describe_volume(data, "slice.h5")
    assert info is not None and len(info.channels) == 4 and info.default == SliceChoice(channel=0)
    np.testing.assert_allclose(read_scan(data, "slice.h5").pixels, to_unit_range(image[..., 0]), atol=1e-6)


def test_brats_label_map_mask_becomes_binary() -> None:
    labels = np.zeros(gradient().shape, dtype=np.uint8)
    labels[5:9, 5:9], labels[20:25, 20:25] = 4, 2
    scan = read_scan(brats_bytes(brats_slice()[0], labels), "slice.h5")
    assert scan.mask is not None and set(np.unique(scan.mask)) == {0, 1} and scan.mask.sum() == 16 + 25


def test_h5_without_image_or_with_mismatched_mask_is_refused() -> None:
    with pytest.raises(InputError) as err:
        read_scan(brats_bytes(np.zeros((2, 2))).replace(b"image", b"other"), "weights.h5")
    assert "'image' dataset" in one_sentence(err)
    with pytest.raises(InputError) as err:
        read_scan(brats_bytes(brats_slice()[0], np.zeros((10, 10), np.uint8)), "slice.h5")
    assert "mask" in one_sentence(err)


def test_figshare_mat_is_transposed_back_with_mask_and_label() -> None:
    image = gradient() * 800
    mask = np.zeros(image.shape, dtype=bool)
    mask[30:40, 5:25] = True
    data = figshare_bytes(image, mask, label=2)
    assert data.startswith(b"MATLAB 7.3")
    scan = read_scan(data, "1234.mat")
    assert scan.pixels.shape == image.shape
    np.testing.assert_allclose(scan.pixels, to_unit_range(image.astype(np.int16)), atol=1e-6)
    np.testing.assert_array_equal(scan.mask, mask)
    assert scan.label == "glioma" and scan.source_format == "figshare MAT"
    assert describe_volume(data, "1234.mat") is None


def test_truncated_hdf5_is_one_sentence() -> None:
    data = figshare_bytes(gradient() * 800, gradient() > 0.5, label=1)
    for cut in (520, 2000, len(data) // 2, len(data) - 10):
        with pytest.raises(InputError) as err:
            read_scan(data[:cut], "cut.mat")
        one_sentence(err)
