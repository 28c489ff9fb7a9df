"""What every format reader returns, and the checks and intensity mappings they share.

Readers turn a file's stored values ("raw", e.g. DICOM units after rescale) into ``ScanSlice.pixels`` in [0, 1]
through :func:`to_display`, so windowing and validation behave the same for every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.io.errors import InputError

MAX_PIXELS = 40_000_000
"""Largest accepted slice (width x height); larger files are refused from their header, before pixels are decoded."""
MAX_VOXELS = 300_000_000
"""Largest accepted volume (all dimensions multiplied), refused from the header; a 512 x 512 x 1000 series is 262M."""
MIN_SIDE = 32
"""Smallest accepted width or height in pixels; smaller images carry too little anatomy to classify."""


@dataclass(frozen=True)
class ScanSlice:
    """One decoded 2D slice.

    Attributes:
        pixels: H x W float32 in [0, 1].
        pixel_spacing_mm: (row, column) spacing when the file states it, else None.
        mask: H x W uint8 ground-truth mask in {0, 1} when the file carries one, else None.
        source_format: short name of the decoded format, e.g. "JPEG", "DICOM", "NIfTI".
        label: ground-truth tumour type when the file states one (figshare .mat), else None.
    """

    pixels: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None = None
    mask: np.ndarray | None = None
    source_format: str = ""
    label: str | None = None


@dataclass(frozen=True)
class SliceChoice:
    """Which 2D slice of a volume or multi-frame file to read; None everywhere means the reader's default.

    Attributes:
        axis: entry of ``VolumeInfo.shape`` to slice along (NIfTI); default the axial axis.
        index: slice number along ``axis``; default the middle slice.
        channel: channel of a multi-channel slice (BraTS .h5); default 0.
        frame: frame of a DICOM multi-frame or multi-page TIFF/GIF (default the middle one, as frames are
            usually slices) or time point of a 4D NIfTI (default the first).
        window_center, window_width: display window in the file's stored units (DICOM after rescale, NIfTI after
            scaling, .h5/.mat values); each overrides the file's own value. Ignored for JPEG/PNG-like images,
            whose pixels already are display values.
    """

    axis: int | None = None
    index: int | None = None
    channel: int | None = None
    frame: int | None = None
    window_center: float | None = None
    window_width: float | None = None


@dataclass(frozen=True)
class VolumeInfo:
    """What a multi-slice file holds, so a page can offer a slice picker before reading.

    Attributes:
        shape: array shape as stored, e.g. (X, Y, Z) for NIfTI or (frames, rows, columns) for DICOM.
        axes: one name per entry of ``shape``: the plane that slicing along it gives ("sagittal", "coronal",
            "axial") or what it counts ("time", "frame", "row", "column", "channel").
        slice_axes: entries of ``shape`` a ``SliceChoice.axis`` may name; empty when only frames or channels vary.
        frames: number of frames or time points; 1 when there are none.
        channels: one name per channel a ``SliceChoice.channel`` may name; empty when there is one.
        default: the choice :func:`core.io.read.read_scan` makes when given none.
        source_format: short name of the format, as in ``ScanSlice.source_format``.
    """

    shape: tuple[int, ...]
    axes: tuple[str, ...]
    slice_axes: tuple[int, ...] = ()
    frames: int = 1
    channels: tuple[str, ...] = ()
    default: SliceChoice = field(default_factory=SliceChoice)
    source_format: str = ""

    @property
    def has_choices(self) -> bool:
        """True when the user has something to pick: several slices, frames or channels."""
        several_slices = any(self.shape[axis] > 1 for axis in self.slice_axes)
        return several_slices or self.frames > 1 or len(self.channels) > 1


def validate_dimensions(width: int, height: int, name: str) -> None:
    """Refuse images too large to decode safely or too small to analyse, before touching their pixels."""
    if width * height > MAX_PIXELS:
        raise too_large(name)
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"{name} is only {width}x{height} pixels; please upload a slice at least {MIN_SIDE} pixels on each side."
        )


def validate_volume(shape: tuple[int, ...], name: str) -> None:
    """Refuse volumes whose header declares more than ``MAX_VOXELS`` values, before reading any of them."""
    if int(np.prod(shape, dtype=np.float64)) > MAX_VOXELS:
        raise InputError(
            f"{name} declares a {'x'.join(map(str, shape))} volume, which is too large to analyse safely; "
            f"please upload a volume of at most {MAX_VOXELS // 1_000_000} million voxels."
        )


def validate_pixels(pixels: np.ndarray, name: str) -> None:
    """Refuse images without usable content (non-finite or constant values)."""
    if not np.all(np.isfinite(pixels)):
        raise InputError(f"{name} contains NaN or infinite pixel values; please upload a valid MRI slice.")
    if float(pixels.max()) - float(pixels.min()) < 1e-6:
        raise InputError(f"{name} is a constant image with no anatomy in it; please upload a brain MRI slice.")


def choose_index(value: int | None, count: int, default: int, what: str, name: str) -> int:
    """``value`` checked against ``range(count)``, or ``default`` when it is None.

    Raises:
        InputError: ``value`` is outside ``range(count)`` (negative indices are refused, not counted from the end).
    """
    if value is None:
        return default
    if not 0 <= value < count:
        raise InputError(f"{name} has no {what} {value}; please choose a number from 0 to {count - 1}.")
    return int(value)


def choose_window(
    choice: SliceChoice, file_window: tuple[float, float] | None, name: str
) -> tuple[float, float] | None:
    """The (center, width) display window: the user's values over the file's, or None when either is unknown.

    Raises:
        InputError: the chosen width is not a positive finite number.
    """
    center = choice.window_center if choice.window_center is not None else (file_window or (None, None))[0]
    width = choice.window_width if choice.window_width is not None else (file_window or (None, None))[1]
    if center is None or width is None:
        return None
    if not (np.isfinite(center) and np.isfinite(width) and width > 0):
        raise InputError(f"{name} cannot be shown with window width {width}; please choose a positive window width.")
    return float(center), float(width)


def to_display(raw: np.ndarray, name: str, window: tuple[float, float] | None) -> np.ndarray:
    """Validate a slice in stored units, then map it to float32 [0, 1] through ``window``, else by min and max.

    The window is the DICOM "LINEAR" VOI function (PS3.3 C.11.2.1.2.1) without its half-unit offsets:
    values below ``center - width / 2`` become 0 and values above ``center + width / 2`` become 1.
    """
    validate_pixels(raw, name)
    if window is None:
        return to_unit_range(raw)
    center, width = window
    return np.clip((raw.astype(np.float32) - (center - width / 2)) / width, 0.0, 1.0).astype(np.float32)


def to_unit_range(array: np.ndarray) -> np.ndarray:
    """Scale any numeric array linearly to float32 [0, 1] by its own min and max (a constant array gives zeros)."""
    array = array.astype(np.float32)
    low, high = float(np.min(array)), float(np.max(array))
    if not np.isfinite(low) or not np.isfinite(high) or high - low < 1e-12:
        return array - low if np.isfinite(low) else array
    return (array - low) / (high - low)


def too_large(name: str) -> InputError:
    """The error for a slice above ``MAX_PIXELS``, shared by the header check and Pillow's bomb guard."""
    return InputError(
        f"{name} is too large to analyse safely; please upload a slice of at most {MAX_PIXELS // 1_000_000} megapixels."
    )
