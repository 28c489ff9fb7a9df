"""What a study upload holds: one NIfTI volume, the DICOM files of a series, or a ``.zip`` of either, all in memory.

:func:`list_series` tells a page which DICOM series an upload holds (description and slice count), so it can let
the user pick one; :func:`read_study` then reads the chosen one (or the NIfTI volume) into a
:class:`~core.study.volume.Volume`. Nothing is written to disk: zip members are read from the uploaded bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import PurePosixPath

from core.io.dicom import is_dicom
from core.io.errors import InputError, decoding
from core.io.nifti import is_nifti
from core.io.scan import SliceChoice
from core.study.series import Series, SeriesChoiceError, SeriesInfo, find_series, read_series
from core.study.volume import Volume, read_nifti_volume

ACCEPTED_STUDY = "a NIfTI volume (.nii or .nii.gz), the DICOM files of one series, or a .zip of them"
"""What study error messages offer instead: ``f"...; please upload {ACCEPTED_STUDY}."``."""
ZIP_MAGIC = b"PK\x03\x04"
MAX_UNZIPPED_BYTES = 2**30
"""Largest total size a zip may declare for its members (1 GiB; a 512 x 512 x 1000 16-bit series is 0.5 GiB),
checked before anything is decompressed, so a zip bomb is refused from its directory."""

Upload = tuple[str, bytes]
"""One uploaded file: its name (for messages only) and its bytes."""


def list_series(files: Sequence[Upload]) -> list[SeriesInfo]:
    """The DICOM series among ``files`` (zips opened), each with its UID, description and slice count.

    Raises:
        InputError: a zip or DICOM file that cannot be read.
    """
    return [series.info for series in find_series(expand_zips(files))]


def read_study(files: Sequence[Upload], name: str | None = None, series_uid: str | None = None,
               choice: SliceChoice | None = None) -> Volume:
    """Read one study from ``files``: a NIfTI volume, or the DICOM series ``series_uid`` (needed only when the
    files hold several series).

    Args:
        files: (name, bytes) pairs; ``.zip`` files are opened, non-image files (text, DICOMDIR) left out.
        name: the study's name in messages; default the single file's name.
        series_uid: SeriesInstanceUID of the series to read, as :func:`list_series` gives it.
        choice: an optional display window (``window_center``, ``window_width``) that overrides the files'.

    Raises:
        SeriesChoiceError: several series and no ``series_uid``; ``.series`` lists them.
        InputError: everything else that is wrong with the upload, in one sentence.
    """
    name = name or (files[0][0] if len(files) == 1 else "The upload")
    members = expand_zips(files)
    volumes = [(member, data) for member, data in members if is_nifti(data)]
    if volumes:
        if len(volumes) > 1 or any(is_dicom(data) for _, data in members):
            raise InputError(f"{name} holds more than one volume or series; please upload one at a time.")
        member, data = volumes[0]
        with decoding(member, "a NIfTI volume", ACCEPTED_STUDY):
            return read_nifti_volume(data, member, choice)
    found = find_series(members)
    if not found:
        raise InputError(f"{name} holds no DICOM images or NIfTI volume; please upload {ACCEPTED_STUDY}.")
    chosen = _choose(found, series_uid, name)
    return read_series(chosen, name, choice)


def expand_zips(files: Sequence[Upload]) -> list[Upload]:
    """``files`` with each zip replaced by its members (folders, hidden files and macOS resource forks left out).

    Raises:
        InputError: a zip that is corrupt, encrypted or declares more than :data:`MAX_UNZIPPED_BYTES`.
    """
    expanded: list[Upload] = []
    for name, data in files:
        if not data.startswith(ZIP_MAGIC):
            expanded.append((name, data))
            continue
        with decoding(name, "a ZIP archive", ACCEPTED_STUDY), zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [info for info in archive.infolist() if _is_member_file(info)]
            if sum(info.file_size for info in members) > MAX_UNZIPPED_BYTES:
                raise InputError(f"{name} unpacks to more than {MAX_UNZIPPED_BYTES // 2**30} GiB, which is too large "
                                 "to analyse safely; please upload a single series.")
            if any(info.flag_bits & 0x1 for info in members):
                raise InputError(f"{name} is password-protected; please upload an unencrypted .zip.")
            expanded.extend((f"{name}/{info.filename}", archive.read(info)) for info in members)
    return expanded


def _is_member_file(info: zipfile.ZipInfo) -> bool:
    path = PurePosixPath(info.filename)
    return not info.is_dir() and not path.name.startswith(".") and "__MACOSX" not in path.parts


def _choose(found: list[Series], series_uid: str | None, name: str) -> Series:
    """The series with ``series_uid``, or the only one; otherwise a sentence listing what there is."""
    if series_uid is not None:
        for series in found:
            if series.info.uid == series_uid:
                return series
        raise InputError(f"{name} has no DICOM series with UID {series_uid}; it holds {_listing(found)}.")
    if len(found) > 1:
        raise SeriesChoiceError(f"{name} holds {len(found)} DICOM series ({_listing(found)}); please choose one of "
                                "them by its UID.", [series.info for series in found])
    return found[0]


def _listing(found: list[Series]) -> str:
    return "; ".join(f"{s.info.description}: {s.info.slices} slices, UID {s.info.uid or '(none)'}" for s in found)
