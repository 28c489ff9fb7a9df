"""The results as DICOM, built in memory from a series as a PACS sends it (no server): what is made with and without
a tumour, the series that are refused, orientation and patient fields, chosen slices, and the page's sentences.

The round trip through a real PACS, with the objects read back, is in ``test_pacs_orthanc.py``.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from study_builders import CUBE_SLICES, cube_slice, series_files

from core.models.cards import TUMOUR_NET, read_cards
from core.models.registry import load_model
from core.pacs.client import SeriesListing, StudyInfo, check_analysable, search_sentence
from core.pacs.connection import PacsError
from core.pacs.export import (
    ModelVersion,
    make_results,
    next_series_number,
    patient_orientation,
    read_model_version,
    report_patient,
)
from core.pacs.study import SeriesAnalysis, analyse_instances, choose_instances, parse_instance_numbers
from core.pacs.view import first_analysable, sent_sentence, series_table, study_label

PATIENT = {"PatientID": "P-MEM", "PatientName": "Memory^Mo", "PatientBirthDate": "19800229", "StudyDate": "20240105",
           "ReferringPhysicianName": "Referrer^Rita"}


def instances(**attributes: object) -> list[Dataset]:
    """The cube series as data sets, as WADO-RS hands them over."""
    common = {"StudyInstanceUID": generate_uid(), "FrameOfReferenceUID": generate_uid(), **PATIENT, **attributes}
    return [pydicom.dcmread(io.BytesIO(data)) for _, data in series_files(uid=generate_uid(), **common)]


@pytest.fixture(scope="module")
def model(tiny_weights: Path):
    return load_model(TUMOUR_NET, tiny_weights)


@pytest.fixture(scope="module")
def version(tiny_weights: Path) -> ModelVersion:
    return read_model_version(TUMOUR_NET, tiny_weights)


def analysed(datasets: list[Dataset], model) -> SeriesAnalysis:
    return analyse_instances(datasets, model, 'Series 3 "AX FLAIR"', str(datasets[0].StudyInstanceUID),
                             str(datasets[0].SeriesInstanceUID))


def test_a_tumour_gives_a_seg_one_capture_per_tumour_slice_and_the_report(model, version, tiny_weights) -> None:
    results = make_results(analysed(instances(), model), version, read_cards(tiny_weights), 10)
    assert int(results.segmentation.NumberOfFrames) == len(CUBE_SLICES)
    assert [int(ds.SeriesNumber) for ds in results.instances] == [10] + [11] * len(CUBE_SLICES) + [12]
    assert results.segmentation.SegmentSequence[0].SegmentLabel == "Tumour"
    assert version.label in results.segmentation.SegmentSequence[0] \
        .SegmentationAlgorithmIdentificationSequence[0].AlgorithmVersion
    assert len(version.label) <= 64  # a DICOM LO
    assert len({ds.SeriesInstanceUID for ds in results.instances}) == 3
    assert sent_sentence(results, "https://pacs.example") == (
        f"Stored in the study on the PACS at https://pacs.example: a DICOM SEG (series 10), {len(CUBE_SLICES)} "
        "outlined slices (series 11) and the PDF report (series 12).")


def test_no_tumour_sends_only_the_report_and_says_why(model, version, tiny_weights) -> None:
    analysis = analysed(instances(), model)
    empty = replace(analysis.view.result, mask=np.zeros_like(analysis.view.result.mask))
    results = make_results(replace(analysis, view=replace(analysis.view, result=empty)), version,
                           read_cards(tiny_weights), 5)
    assert results.segmentation is None and results.captures == () and results.instances == [results.report]
    assert results.uids()["seg_series_uid"] is None and results.uids()["capture_instance_uids"] == []
    assert sent_sentence(results, "https://pacs.example").endswith(
        "the PDF report (series 7); no tumour was found, so there is no segmentation.")


def test_images_without_a_frame_of_reference_are_refused_in_one_sentence(model, version, tiny_weights) -> None:
    datasets = instances()
    del datasets[2].FrameOfReferenceUID
    with pytest.raises(PacsError) as caught:
        make_results(analysed(datasets, model), version, read_cards(tiny_weights), 5)
    assert str(caught.value) == ('Some images of Series 3 "AX FLAIR" have no FrameOfReferenceUID, so a segmentation '
                                 "cannot be placed on them and nothing was sent.")


def test_a_multi_frame_image_is_analysed_but_not_sent(model, version, tiny_weights) -> None:
    from fixtures_images import dicom_bytes

    frames = np.stack([cube_slice(index) for index in CUBE_SLICES])
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(frames, StudyInstanceUID=generate_uid(),
                                                SeriesInstanceUID=generate_uid(), InstanceNumber=1)))
    analysis = analysed([ds], model)
    assert len(analysis.view.volume.pixels) == len(CUBE_SLICES)
    with pytest.raises(PacsError, match="is a multi-frame image; results can be sent back for series of single-"):
        make_results(analysis, version, read_cards(tiny_weights), 5)


def test_instances_of_another_modality_are_refused(model) -> None:
    with pytest.raises(PacsError, match=r'^Series 3 "AX FLAIR" is a CT series, not MR'):
        analysed(instances(Modality="CT"), model)
    ds = Dataset()
    with pytest.raises(PacsError, match="is a series without a modality, not MR"):
        check_analysable(ds, "Series 9")


def test_report_names_the_patient_from_the_series_header() -> None:
    patient = report_patient(instances()[0])
    assert (patient.name, patient.patient_id, patient.birth_date, patient.study_date, patient.referring_physician) \
        == ("Memory, Mo", "P-MEM", "1980-02-29", "2024-01-05", "Referrer, Rita")


@pytest.mark.parametrize(("cosines", "expected"), [((1, 0, 0, 0, 1, 0), ("L", "P")), ((0, 1, 0, 0, 0, -1), ("P", "F")),
                                                   ((-1, 0, 0, 0, 0, -1), ("R", "F")),
                                                   ((0.94, 0.34, 0, -0.34, 0.94, 0), ("L", "P"))])
def test_patient_orientation_names_the_closest_patient_direction(cosines, expected) -> None:
    ds = Dataset()
    ds.ImageOrientationPatient = list(cosines)
    assert patient_orientation(ds) == expected


def test_result_series_are_numbered_after_the_studys_own() -> None:
    assert next_series_number([3, None, 12, 2]) == 13
    assert next_series_number([None]) == 900


def test_instance_numbers_and_ranges_are_parsed_and_chosen() -> None:
    assert parse_instance_numbers("3-5, 10, 7-6") == [3, 4, 5, 6, 7, 10]
    for bad in ("3..5", "", "4, x"):
        with pytest.raises(PacsError, match="is not an instance number or range"):
            parse_instance_numbers(bad)
    datasets = instances()
    assert [int(ds.InstanceNumber) for ds in choose_instances(datasets, [2, 3, 99], "S")] == [2, 3]
    with pytest.raises(PacsError) as caught:
        choose_instances(datasets, [40, 41], "Series 3")
    assert str(caught.value) == "None of the chosen instance numbers is in Series 3, which holds instances 1 to 8."


def test_page_labels_and_sentences() -> None:
    study = StudyInfo("1.2", "Doe, Jane", "P1", "2024-01-05", "Brain MRI", "MR", 2, 9)
    assert study_label(study) == "2024-01-05 · Doe, Jane (P1) · Brain MRI"
    listing = SeriesListing("1.2.3", 3, "MR", "AX FLAIR", 8)
    assert listing.label == "AX FLAIR (MR, series 3, 8 images)" and listing.name == 'Series 3 "AX FLAIR"'
    assert first_analysable([replace(listing, modality="CT"), listing]) == 1 and first_analysable([]) == 0
    assert series_table([listing]) == [{"Number": 3, "Modality": "MR", "Description": "AX FLAIR", "Images": 8}]
    assert search_sentence([study]) == "1 matching study found."
    assert search_sentence([study] * 3, limit=3).startswith("The first 3 matching studies are shown")
