"""DICOM series: files grouped by SeriesInstanceUID, slices put in order along their normal, geometry checked.

Slices are ordered by ImagePositionPatient projected on the slice normal (the cross product of the two direction
cosines of ImageOrientationPatient), never by file name or InstanceNumber, which scanners and exports do not keep
consistent. The slice spacing comes from those positions and PixelSpacing, not from SliceThickness (slices may
overlap or leave gaps). Enhanced multi-frame files keep position, orientation and spacing per frame in functional
groups; every frame is then one slice.

When the geometry is missing or inconsistent (no position, gaps, duplicated positions, varying spacing, differing
orientation or pixel size) the series is still shown slice by slice, but one sentence says what is wrong and nothing
is measured.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from core.io.dicom import check_image_header, frame_count, is_dicom, pixel_spacing
from core.io.errors import InputError, decoding
from core.io.lut import display_values, frame_attribute, modality_values, number
from core.io.scan import SliceChoice, validate_volume
from core.study.volume import Volume

COSINE_TOLERANCE = 1e-3
"""Direction cosines this close count as one orientation (scanners write them to about six decimals)."""
SPACING_TOLERANCE = 0.01
"""Relative difference at which two slice or pixel spacings count as different."""
MIN_DISTANCE_MM = 0.01
"""Slices closer than this along the normal share one position: a duplicated slice."""
DICOM_GRID_ORNT = np.array([[2, 1], [1, 1], [0, 1]], dtype=float)
"""Display axes (slice, row, column) -> NIfTI voxel axes (column, row, slice), as converters such as dcm2niix write."""
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""DICOM patient coordinates run to the patient's left and back (LPS); NIfTI's and nibabel's to the right and front."""


@dataclass(frozen=True)
class SeriesInfo:
    """What a picker shows for one series: its UID, a description and how many slices it has."""

    uid: str
    description: str
    slices: int


@dataclass(frozen=True, eq=False)
class Frame:
    """One slice of a series: frame ``index`` of the data set read from the file ``name``."""

    name: str
    ds: Dataset
    index: int


@dataclass(frozen=True, eq=False)
class Series:
    """The image slices of one SeriesInstanceUID, in the order the files came."""

    info: SeriesInfo
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class Geometry:
    """Where one slice lies: position of its first pixel and direction cosines (LPS, mm), (row, column) spacing."""

    position: np.ndarray | None
    orientation: np.ndarray | None
    spacing: tuple[float, float] | None


@dataclass(frozen=True)
class Layout:
    """How the slices of a series stack: display order, the sentence for broken geometry, spacing and affine."""

    order: list[int]
    note: str | None = None
    slice_spacing_mm: float | None = None
    affine: np.ndarray | None = None


class SeriesChoiceError(InputError):
    """An upload holds several series and none was chosen; ``series`` lists them for a picker."""

    def __init__(self, message: str, series: list[SeriesInfo]) -> None:
        super().__init__(message)
        self.series = series


def find_series(files: Sequence[tuple[str, bytes]]) -> list[Series]:
    """Group the DICOM images among ``files`` ((name, bytes) pairs) by SeriesInstanceUID, in order of appearance.

    Files that are not DICOM, and DICOM objects without pixel data (DICOMDIR, reports), are left out.

    Raises:
        InputError: a DICOM file that cannot be parsed, or an image that cannot be decoded or is too large.
    """
    datasets = []
    for name, data in files:
        if is_dicom(data):
            with decoding(name, "a DICOM image", "the complete series"):
                datasets.append((name, pydicom.dcmread(io.BytesIO(data), force=True)))
    return group_series(datasets)


def group_series(datasets: Sequence[tuple[str, Dataset]]) -> list[Series]:
    """Group parsed data sets ((name, data set) pairs: files read here, or instances a PACS sent) by
    SeriesInstanceUID, in order of appearance; objects without pixel data are left out.

    Raises:
        InputError: an image that cannot be decoded or is too large.
    """
    groups: dict[str, list[Frame]] = {}
    for name, ds in datasets:
        if "PixelData" not in ds:
            continue
        with decoding(name, "a DICOM image", "the complete series"):
            check_image_header(ds, name)
        uid = str(ds.get("SeriesInstanceUID") or "")
        groups.setdefault(uid, []).extend(Frame(name, ds, index) for index in range(frame_count(ds)))
    return [Series(SeriesInfo(uid, _description(frames[0].ds), len(frames)), tuple(frames))
            for uid, frames in groups.items()]


def read_series(series: Series, name: str, choice: SliceChoice | None = None) -> Volume:
    """Every slice of ``series`` as display slices in order along the normal, with its geometry checked.

    ``choice`` may carry the user's window (centre, width), which then overrides the files' VOI for every slice.

    Raises:
        InputError: slices of different sizes, a too large series, undecodable pixels, no slice with content.
    """
    frames = series.frames
    sizes = sorted({(int(frame.ds.Rows), int(frame.ds.Columns)) for frame in frames})
    if len(sizes) > 1:
        shown = " and ".join(f"{rows} x {columns}" for rows, columns in sizes[:2])
        raise InputError(f"{name} mixes slices of {shown} pixels; please upload one series whose slices share a size.")
    validate_volume((len(frames), *sizes[0]), name)
    geometry, layout = series_layout(series)
    pixels = np.zeros((len(frames), *sizes[0]), dtype=np.float32)
    blank = np.zeros(len(frames), dtype=bool)
    for row, index in enumerate(layout.order):
        frame = frames[index]
        with decoding(frame.name, "a DICOM image", "the complete series"):
            raw = modality_values(frame.ds, frame.index)
        blank[row] = bool(np.isfinite(raw).all()) and float(raw.max()) - float(raw.min()) < 1e-6
        if not blank[row]:
            pixels[row] = display_values(raw, frame.ds, frame.index, frame.name, choice or SliceChoice())
    if blank.all():
        raise InputError(f"{name} holds only constant slices with no anatomy in them; please upload a brain MRI.")
    return Volume(
        name=name, pixels=pixels, blank=blank,
        pixel_spacing_mm=geometry[0].spacing if _pixel_spacing_fault(geometry) is None else None,
        slice_spacing_mm=layout.slice_spacing_mm, geometry_note=layout.note, affine=layout.affine,
        grid_ornt=DICOM_GRID_ORNT, source_format="DICOM",
    )


def series_layout(series: Series) -> tuple[list[Geometry], Layout]:
    """Each frame's geometry, in the order the files came, and how the frames stack: ``layout.order[row]`` is the
    frame shown as slice ``row`` of the volume :func:`read_series` returns."""
    geometry = [frame_geometry(frame.ds, frame.index) for frame in series.frames]
    return geometry, arrange(geometry, _fallback_order(series.frames))


def frame_geometry(ds: Dataset, frame: int) -> Geometry:
    """Position, orientation and pixel spacing of one frame, each None when absent or malformed."""
    position = _numbers(frame_attribute(ds, frame, "PlanePositionSequence", "ImagePositionPatient"), 3)
    orientation = _numbers(frame_attribute(ds, frame, "PlaneOrientationSequence", "ImageOrientationPatient"), 6)
    return Geometry(position, orientation, pixel_spacing(ds, frame))


def arrange(geometry: Sequence[Geometry], fallback: list[int]) -> Layout:
    """Order slices along their normal and check that they form one evenly spaced volume.

    Args:
        geometry: one entry per slice, in the order the files came.
        fallback: the order to show slices in when positions or orientations are missing (InstanceNumber).

    Returns:
        The display order and, when the geometry holds, the slice spacing and the RAS+ affine of the voxel grid
        (column, row, slice); otherwise the one sentence saying what is wrong.
    """
    count = len(geometry)
    for attribute, keyword in (("position", "ImagePositionPatient"), ("orientation", "ImageOrientationPatient")):
        missing = sum(getattr(g, attribute) is None for g in geometry)
        if missing:
            return Layout(fallback, f"{missing} of {count} slices have no {keyword}, so their order and spacing are "
                                    "unknown and the volume is not measured.")
    cosines = geometry[0].orientation
    normal = np.cross(cosines[:3], cosines[3:])
    distance = np.array([float(g.position @ normal) for g in geometry])
    rank = {index: place for place, index in enumerate(fallback)}
    order = sorted(range(count), key=lambda i: (distance[i], rank[i]))
    positions = np.array([geometry[i].position for i in order])
    note = _orientation_fault(geometry) or _pixel_spacing_fault(geometry) or _spacing_fault(distance[order]) \
        or _alignment_fault(positions, min(geometry[0].spacing))
    if note is not None:
        return Layout(order, note)
    first, last = positions[0], positions[-1]
    step = (last - first) / (count - 1)  # keeps a gantry tilt's in-plane shift; its normal part is the spacing
    row_mm, column_mm = geometry[0].spacing
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2], lps[:3, 3] = cosines[:3] * column_mm, cosines[3:] * row_mm, step, first
    return Layout(order, None, float(distance[order[-1]] - distance[order[0]]) / (count - 1), LPS_TO_RAS @ lps)


def _orientation_fault(geometry: Sequence[Geometry]) -> str | None:
    cosines = geometry[0].orientation
    row, column = cosines[:3], cosines[3:]
    unit = abs(np.linalg.norm(row) - 1) < COSINE_TOLERANCE and abs(np.linalg.norm(column) - 1) < COSINE_TOLERANCE
    if not unit or abs(float(row @ column)) > COSINE_TOLERANCE:
        return ("The ImageOrientationPatient of the slices is not two perpendicular unit vectors, so the volume is "
                "not measured.")
    if any(np.abs(g.orientation - cosines).max() > COSINE_TOLERANCE for g in geometry):
        return ("The slices do not share one orientation (ImageOrientationPatient differs between them), so they do "
                "not form one volume and it is not measured.")
    return None


def _pixel_spacing_fault(geometry: Sequence[Geometry]) -> str | None:
    spacings = [g.spacing for g in geometry]
    missing = sum(s is None for s in spacings)
    if missing:
        return f"{missing} of {len(spacings)} slices have no PixelSpacing, so their size in mm is unknown and the " \
            "volume is not measured."
    values = np.array(spacings)
    if (values.max(axis=0) - values.min(axis=0) > SPACING_TOLERANCE * values.min(axis=0)).any():
        shown = [" x ".join(map(_mm, pair)) for pair in sorted(set(spacings))]
        return (f"The slices do not share one pixel size (PixelSpacing {shown[0]} mm on some, {shown[-1]} mm on "
                "others), so the volume is not measured.")
    return None


def _alignment_fault(positions: np.ndarray, pixel_mm: float) -> str | None:
    """The sentence for slices whose positions, in order, do not lie on one straight line (two stacks side by side,
    a moved table), else None; an even in-plane shift, as a gantry tilt gives, is kept in the affine."""
    fraction = np.linspace(0.0, 1.0, len(positions))[:, None]
    expected = positions[0] + fraction * (positions[-1] - positions[0])
    if np.linalg.norm(positions - expected, axis=1).max() <= 0.5 * pixel_mm:
        return None
    return "The slice positions do not lie on one line through the stack, so the volume is not measured."


def _spacing_fault(distance: np.ndarray) -> str | None:
    """The sentence for sorted slice positions (mm along the normal) that are not evenly spaced, else None."""
    if len(distance) < 2:
        return "The series has a single slice, so there is no slice spacing and the volume is not measured."
    steps = np.diff(distance)
    if (close := np.flatnonzero(steps < MIN_DISTANCE_MM)).size:
        return (f"Two slices lie at the same position ({_mm(distance[close[0]])} mm along the slice normal), so a "
                "slice is duplicated and the volume is not measured.")
    typical = float(np.median(steps))
    tolerance = SPACING_TOLERANCE * typical
    if np.all(np.abs(steps - typical) <= tolerance):
        return None
    multiples = np.rint(steps / typical)
    if np.all((multiples >= 1) & (np.abs(steps - multiples * typical) <= tolerance * multiples)):
        gap = int(np.flatnonzero(multiples > 1)[0])
        return (f"Slices are missing between {_mm(distance[gap])} and {_mm(distance[gap + 1])} mm along the slice "
                f"normal (a gap of {_mm(steps[gap])} mm where the others are {_mm(typical)} mm apart), so the volume "
                "is not measured.")
    return (f"The slice spacing varies from {_mm(steps.min())} to {_mm(steps.max())} mm, so the volume is not "
            "measured.")


def _fallback_order(frames: Sequence[Frame]) -> list[int]:
    """Slices by InstanceNumber (then file name and frame), for series whose positions are unknown."""
    def key(index: int) -> tuple[float, str, int]:
        frame = frames[index]
        instance = number(frame.ds.get("InstanceNumber"))
        return (np.inf if instance is None else instance, frame.name, frame.index)
    return sorted(range(len(frames)), key=key)


def _description(ds: Dataset) -> str:
    """SeriesDescription, else the modality and series number, for a series picker."""
    described = str(ds.get("SeriesDescription") or "").strip()
    if described:
        return described
    number_text = str(ds.get("SeriesNumber") or "").strip()
    return " ".join(part for part in (str(ds.get("Modality") or "DICOM"), "series", number_text) if part)


def _numbers(value: object, count: int) -> np.ndarray | None:
    """``count`` finite numbers from a multi-valued DICOM attribute, else None."""
    try:
        values = np.array([float(v) for v in value], dtype=float)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return values if values.shape == (count,) and np.isfinite(values).all() else None


def _mm(value: float) -> str:
    """A length for a sentence: at most two decimals, no trailing zeros."""
    return f"{round(float(value), 2):g}"
