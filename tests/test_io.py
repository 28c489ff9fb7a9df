"""The upload entry point: raster formats, format detection from bytes, and one-sentence errors for bad input."""

from __future__ import annotations

import gzip
import io
import re
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from fixtures_images import dicom_bytes, gradient, nifti_bytes, png_bytes, raster_bytes
from PIL import Image

from core.io.errors import InputError
from core.io.formats import ACCEPTED, WINDOWED_FORMATS
from core.io.read import (
    ACCEPTED_EXTENSIONS,
    MAX_PIXELS,
    MIN_SIDE,
    SliceChoice,
    describe_volume,
    read_image,
    read_scan,
)


def assert_one_sentence(err: pytest.ExceptionInfo[InputError]) -> str:
    """The message a page shows verbatim: one line, one sentence, ending with a full stop."""
    message = str(err.value)
    assert "\n" not in message and message.endswith("."), message
    assert not re.search(r"[.;]\s+[A-Z]", message), message
    return message


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header declares ``width`` x ``height`` but that carries only a few bytes of pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(bytes(64)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def jpeg_bytes(mode: str = "L", **save: object) -> bytes:
    image = Image.fromarray((gradient() * 255).astype(np.uint8), mode="L").convert(mode)
    return raster_bytes(image, "JPEG", quality=95, **save)


def float_tiff(array: np.ndarray) -> bytes:
    return raster_bytes(Image.fromarray(array.astype(np.float32), mode="F"), "TIFF")


# --- Accepted raster images -------------------------------------------------------------------------------------

RASTERS = {
    "jpeg_gray": lambda: jpeg_bytes(),
    "jpeg_rgb": lambda: jpeg_bytes("RGB"),
    "jpeg_cmyk": lambda: jpeg_bytes("CMYK"),
    "png_gray": lambda: png_bytes(),
    "png_rgba": lambda: png_bytes(mode="RGBA"),
    "png_palette": lambda: png_bytes(mode="P"),
    "png_16bit": lambda: raster_bytes(Image.fromarray((gradient() * 4000).astype(np.uint16)), "PNG"),
    "tiff_16bit": lambda: raster_bytes(Image.fromarray((gradient() * 4000).astype(np.uint16)), "TIFF"),
    "tiff_float": lambda: float_tiff(gradient() * 3.5 - 1.0),
    "tiff_int32": lambda: raster_bytes(Image.fromarray((gradient() * 1e6).astype(np.int32), mode="I"), "TIFF"),
    "webp": lambda: raster_bytes(Image.fromarray((gradient() * 255).astype(np.uint8)), "WEBP", lossless=True),
    "bmp": lambda: raster_bytes(Image.fromarray((gradient() * 255).astype(np.uint8)), "BMP"),
}


@pytest.mark.parametrize("kind", list(RASTERS))
def test_raster_images_decode_to_unit_range_grayscale(kind: str) -> None:
    scan = read_scan(RASTERS[kind](), f"slice-{kind}")
    assert scan.pixels.shape == gradient().shape
    assert scan.pixels.dtype == np.float32
    assert 0.0 <= scan.pixels.min() < scan.pixels.max() <= 1.0
    assert correlation(scan.pixels, gradient()) > 0.98
    assert describe_volume(RASTERS[kind](), f"slice-{kind}") is None


def test_exif_orientation_turns_a_phone_photo_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    scan = read_scan(jpeg_bytes(exif=exif), "photo.jpg")
    assert scan.pixels.shape == gradient().shape[::-1]
    assert correlation(scan.pixels, np.rot90(gradient(), k=-1)) > 0.98


def test_format_is_detected_from_bytes_not_extension() -> None:
    assert read_scan(png_bytes(), "Tr-no_1005.jpg").source_format == "PNG"
    assert read_scan(dicom_bytes(), "slice.png").source_format == "DICOM"
    assert read_scan(dicom_bytes(), "IM0001").source_format == "DICOM"


def test_multi_page_tiff_is_a_volume_of_frames() -> None:
    pages = [Image.fromarray((gradient() * 60 * (i + 1)).astype(np.uint8)) for i in range(3)]
    pages[2].paste(255, (50, 30, 60, 40))  # mark the last page
    data = raster_bytes(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    info = describe_volume(data, "stack.tif")
    assert info is not None and info.frames == 3 and info.default == SliceChoice(frame=1)
    assert read_scan(data, "stack.tif").pixels.shape == gradient().shape
    assert read_scan(data, "stack.tif", SliceChoice(frame=2)).pixels[35, 55] == 1.0
    with pytest.raises(InputError) as err:
        read_scan(data, "stack.tif", SliceChoice(frame=3))
    assert "from 0 to 2" in assert_one_sentence(err)


def test_animated_gif_frames_can_be_picked() -> None:
    frames = [Image.fromarray((np.roll(gradient(), 8 * i, axis=1) * 255).astype(np.uint8)) for i in range(4)]
    data = raster_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    info = describe_volume(data, "cine.gif")
    assert info is not None and info.frames == 4
    first = read_scan(data, "cine.gif", SliceChoice(frame=0)).pixels
    last = read_scan(data, "cine.gif", SliceChoice(frame=3)).pixels
    assert not np.allclose(first, last)


def test_read_image_keeps_its_single_frame_raster_contract() -> None:
    assert read_image(png_bytes(), "a.png").pixels.shape == gradient().shape
    with pytest.raises(InputError) as err:
        read_image(dicom_bytes(), "a.dcm")
    assert_one_sentence(err)
    pages = [Image.fromarray((gradient() * 100 * (i + 1)).astype(np.uint8)) for i in range(2)]
    with pytest.raises(InputError, match="2 frames") as err:
        read_image(raster_bytes(pages[0], "TIFF", save_all=True, append_images=pages[1:]), "stack.tif")
    assert_one_sentence(err)


def test_read_scan_without_choice_reads_the_default_of_describe_volume() -> None:
    volume = np.random.default_rng(0).random((40, 44, 36)).astype(np.float32)
    data = nifti_bytes(volume)
    info = describe_volume(data, "brain.nii")
    assert info is not None
    default = read_scan(data, "brain.nii", info.default).pixels
    np.testing.assert_array_equal(read_scan(data, "brain.nii").pixels, default)


def test_accepted_extensions_cover_every_format_for_the_upload_widget() -> None:
    for extension in ["jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp", "gif", "dcm", "nii", "nii.gz", "gz", "h5",
                      "mat"]:
        assert extension in ACCEPTED_EXTENSIONS
    assert all(ext == ext.lower() and not ext.startswith(".") for ext in ACCEPTED_EXTENSIONS)


def test_one_format_list_feeds_every_message_and_the_window_controls() -> None:
    assert ACCEPTED == ("a brain MRI as a DICOM, NIfTI (.nii or .nii.gz), BraTS .h5, figshare .mat, "
                        "JPG, PNG, TIFF, WebP, BMP or GIF file")
    assert read_scan(png_bytes(), "x.png").source_format not in WINDOWED_FORMATS
    assert read_scan(dicom_bytes(), "x.dcm").source_format in WINDOWED_FORMATS
    with pytest.raises(InputError, match=re.escape(f"please upload {ACCEPTED}.")):
        read_scan(b"GIF89a broken", "x.gif")


def test_core_io_does_not_import_streamlit() -> None:
    out = subprocess.run([sys.executable, "-c", "import core.io.read, sys; print('streamlit' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- Bad input: one InputError sentence each ---------------------------------------------------------------------

def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("slice.png", png_bytes())
    return buffer.getvalue()


BAD_INPUTS = {
    "empty": (b"", "is empty"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "is a PDF document"),
    "text": (b"patient,age\nA,42\n", "is a text file"),
    "zip": (zip_bytes(), "is a ZIP archive"),
    "gzip_not_nifti": (gzip.compress(b"hello world" * 100), "gzip archive without a NIfTI volume"),
    "matlab_v5": (b"MATLAB 5.0 MAT-file, Platform: PCWIN64" + bytes(200), "MATLAB v5"),
    "heic": (b"\0\0\0\x18ftypheic" + bytes(100), "HEIC photo"),
    "unsupported_format": (raster_bytes(Image.new("L", (64, 64), 9), "ICO"), "not an image this app can read"),
    "random_binary": (bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8)), "not an image"),
    "truncated_png": (png_bytes(np.random.default_rng(2).random((200, 200)))[:2000], "truncated or corrupt"),
    "truncated_jpeg": (jpeg_bytes()[:400], "truncated or corrupt"),
    "bomb_over_pillow_limit": (png_declaring(100_000, 100_000), "too large"),
    "huge_under_pillow_limit": (png_declaring(7_000, 7_000), "too large"),
    "tiny": (png_bytes(gradient(16, 16)), f"at least {MIN_SIDE} pixels"),
    "nan_pixels": (float_tiff(np.where(gradient() > 0.5, np.nan, gradient())), "NaN or infinite"),
    "inf_pixels": (float_tiff(np.where(gradient() > 0.5, np.inf, gradient())), "NaN or infinite"),
    "constant": (png_bytes(np.full((64, 64), 0.5)), "constant image"),
    "nifti_header_pair": (bytes(344) + b"ni1\0" + bytes(8), "NIfTI .hdr/.img pair"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_raises_one_sentence_input_error(case: str) -> None:
    data, expected = BAD_INPUTS[case]
    with pytest.raises(InputError) as err:
        read_scan(data, f"{case}.bin")
    message = assert_one_sentence(err)
    assert message.startswith(f"{case}.bin ") and expected in message


def test_message_without_filename_starts_with_the_file() -> None:
    with pytest.raises(InputError) as err:
        read_scan(b"")
    assert assert_one_sentence(err).startswith("The file is empty")


def test_huge_images_are_refused_from_the_header_before_decoding() -> None:
    # 7000 x 7000 declares 49 MB of pixels but the file carries none: only a header check can refuse it.
    assert 7_000 * 7_000 > MAX_PIXELS
    with pytest.raises(InputError, match="too large"):
        describe_volume(png_declaring(7_000, 7_000), "huge.png")


def test_choice_out_of_range_and_bad_window_are_one_sentence() -> None:
    data = nifti_bytes(np.random.default_rng(3).random((40, 40, 40)).astype(np.float32))
    for choice, expected in [
        (SliceChoice(axis=2, index=40), "from 0 to 39"),
        (SliceChoice(axis=3), "axis"),
        (SliceChoice(index=-1), "slice -1"),
        (SliceChoice(window_center=0.5, window_width=-1.0), "positive window width"),
    ]:
        with pytest.raises(InputError) as err:
            read_scan(data, "brain.nii", choice)
        assert expected in assert_one_sentence(err)


# --- Fuzz: random bytes and damaged files raise InputError or decode, never anything else -----------------------

def assert_only_input_error(data: bytes) -> None:
    try:
        scan = read_scan(data, "fuzz.bin")
    except InputError as err:
        assert "\n" not in str(err) and str(err).endswith(".")
    else:
        assert scan.pixels.ndim == 2 and np.isfinite(scan.pixels).all()


@pytest.mark.filterwarnings("ignore::UserWarning")  # decoders warn about the garbage they are fed
def test_random_bytes_only_raise_input_error() -> None:
    rng = np.random.default_rng(4)
    for size in [1, 2, 3, 8, 64, 132, 348, 540, 1024, 5000]:
        for _ in range(3):
            assert_only_input_error(bytes(rng.integers(0, 256, size, dtype=np.uint8)))
    # Random bytes behind each accepted signature reach the format's own decoder.
    for prefix in [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\0", b"BM", b"GIF89a", b"RIFF\0\0\0\0WEBP",
                   bytes(128) + b"DICM", b"\x08\x00", b"\x89HDF\r\n\x1a\n", b"\x1f\x8b"]:
        for _ in range(3):
            assert_only_input_error(prefix + bytes(rng.integers(0, 256, 600, dtype=np.uint8)))


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_truncated_and_corrupted_images_only_raise_input_error(kind: str) -> None:
    rng = np.random.default_rng(5)
    valid = png_bytes(rng.random((64, 64))) if kind == "png" else jpeg_bytes()
    for cut in np.linspace(1, len(valid) - 1, 40).astype(int):
        assert_only_input_error(valid[:cut])
    for _ in range(40):
        damaged = bytearray(valid)
        for position in rng.integers(0, len(valid), 4):
            damaged[position] = int(rng.integers(0, 256))
        assert_only_input_error(bytes(damaged))
