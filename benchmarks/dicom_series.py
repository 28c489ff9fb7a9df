"""MR DICOM files and series built in memory from arrays, with the geometry and study attributes a scanner writes:
for the PACS benchmark (:mod:`benchmarks.bench_pacs`) and the tests' synthetic studies."""

from __future__ import annotations

import io

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
ORIGIN = np.array([-10.0, 20.0, 30.0])
PIXEL_SPACING = (0.5, 0.8)
STEP = 2.5
"""0.5 x 0.8 x 2.5 mm voxels are 1 mm³ each, so a mask of n voxels is n / 1000 ml."""


def dicom_bytes(frames: np.ndarray, preamble: bool = True, **attributes: object) -> bytes:
    """An MR DICOM file of uint16 ``frames`` (H x W, or N x H x W for multi-frame); ``attributes`` are set last."""
    frames = frames.astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("upload.dcm", Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.Rows, ds.Columns = frames.shape[-2:]
    if frames.ndim == 3:
        ds.NumberOfFrames = frames.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = frames.tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    buffer = io.BytesIO()
    if preamble:
        ds.save_as(buffer, enforce_file_format=True)
    else:  # a bare data set, as some scanners and old archives write: no preamble, no file meta
        ds.file_meta, ds.preamble = FileMetaDataset(), None
        ds.save_as(buffer, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return buffer.getvalue()


def series_files(planes: np.ndarray, uid: str, orientation: tuple[float, ...] = AXIAL,
                 steps: list[float] | None = None, description: str = "AX FLAIR",
                 **attributes: object) -> list[tuple[str, bytes]]:
    """(name, bytes) of a series of ``planes`` (S x H x W stored values) in acquisition order; slice k lies
    ``sum(steps[:k])`` mm (default :data:`STEP` apart) along the normal of ``orientation``."""
    cosines = np.array(orientation)
    normal = np.cross(cosines[:3], cosines[3:])
    offsets = np.concatenate([[0.0], np.cumsum(steps if steps is not None else [STEP] * (len(planes) - 1))])
    files = []
    for index, offset in enumerate(offsets):
        position = [round(float(v), 4) for v in ORIGIN + offset * normal]
        data = dicom_bytes(planes[index], ImagePositionPatient=position,
                           ImageOrientationPatient=list(orientation), PixelSpacing=list(PIXEL_SPACING),
                           SeriesInstanceUID=uid, SeriesDescription=description, InstanceNumber=index + 1,
                           SliceThickness=1.0, **attributes)
        files.append((f"IM{index:04d}", data))
    return files


def study_attributes(study_uid: str, patient_id: str, patient_name: str, study_date: str) -> dict[str, object]:
    """The patient, study and frame-of-reference attributes every series of one study shares."""
    return {"StudyInstanceUID": study_uid, "FrameOfReferenceUID": generate_uid(), "PatientID": patient_id,
            "PatientName": patient_name, "PatientBirthDate": "19700101", "PatientSex": "O",
            "StudyDate": study_date, "StudyTime": "101500", "StudyID": "1", "AccessionNumber": "A1",
            "ReferringPhysicianName": "", "StudyDescription": "Brain MRI"}
