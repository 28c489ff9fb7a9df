"""Against a real PACS (Debian's Orthanc with DICOMweb, authentication on): search, list, retrieve, analyse, store
the SEG, the outlined secondary captures and the PDF report, then read all three back and check them; the command
line; a wrong password and a non-MR series. The issue's 15 s target for a 20-slice round trip is measured by
:mod:`benchmarks.bench_pacs`.

Skips where Orthanc is not installed (``apt-get install orthanc orthanc-dicomweb``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
from orthanc_server import Orthanc, SyntheticStudy, load_synthetic_study
from pypdf import PdfReader
from study_builders import CUBE_SLICES, CUBE_VOXELS

from core.models.cards import TUMOUR_NET, read_cards
from core.models.registry import LoadedModel, load_model
from core.pacs import cli as pacs_cli
from core.pacs.client import PacsClient, SeriesListing, StudyQuery
from core.pacs.connection import PacsError, read_config
from core.pacs.export import DESCRIPTIONS, ResultInstances, read_model_version, send_results
from core.pacs.study import SeriesAnalysis, fetch_and_analyse
from core.present.overlay import overlay_mask
from core.study.analyse import analyse_study
from core.study.cli import RESULT_KEYS
from core.study.upload import read_study


@pytest.fixture(scope="module")
def client(orthanc: Orthanc) -> PacsClient:
    return PacsClient(read_config({}, orthanc.environ))


@pytest.fixture(scope="module")
def model(tiny_weights: Path) -> LoadedModel:
    return load_model(TUMOUR_NET, tiny_weights)


@pytest.fixture(scope="module")
def searched(orthanc: Orthanc) -> SyntheticStudy:
    """A study that only searches and analyses touch, so its listing stays as uploaded."""
    return load_synthetic_study(orthanc, "P-SEARCH", "Searchable^Jane", "20240105")


@pytest.fixture(scope="module")
def round_trip(orthanc: Orthanc, client: PacsClient, model: LoadedModel,
               tiny_weights: Path) -> tuple[SyntheticStudy, SeriesAnalysis, ResultInstances]:
    """A study analysed and its results sent back, as "Analyse" and "Send results to PACS" do."""
    study = load_synthetic_study(orthanc, "P-TRIP", "Roundtrip^John", "20240210")
    analysis = fetch_and_analyse(client, study.study_uid, mr_listing(client, study), model)
    sent = send_results(client, analysis, read_model_version(TUMOUR_NET, tiny_weights), read_cards(tiny_weights))
    return study, analysis, sent


def mr_listing(client: PacsClient, study: SyntheticStudy) -> SeriesListing:
    return next(s for s in client.list_series(study.study_uid) if s.uid == study.mr_uid)


def result_series(client: PacsClient, study_uid: str, modality: str) -> list:
    """The instances of the study's one series of ``modality``, retrieved over WADO-RS."""
    (series,) = [s for s in client.list_series(study_uid) if s.modality == modality]
    return client.retrieve_series(study_uid, series.uid)


# --- search, list, retrieve, analyse ----------------------------------------------------------------------------

@pytest.mark.parametrize("query", [StudyQuery(patient_id="P-SEARCH"), StudyQuery(patient_name="searchable"),
                                   StudyQuery(patient_name="Search*Jane", date_from=date(2024, 1, 1),
                                              date_to=date(2024, 1, 31))])
def test_search_finds_the_study_by_id_name_prefix_and_date_range(client, searched, query) -> None:
    (found,) = [s for s in client.search_studies(query) if s.uid == searched.study_uid]
    assert (found.patient_name, found.patient_id, found.study_date) == ("Searchable, Jane", "P-SEARCH", "2024-01-05")
    assert found.description == "Brain MRI" and set(found.modalities.split(", ")) == {"CT", "MR"}


def test_search_outside_the_date_range_finds_nothing(client, searched) -> None:
    assert client.search_studies(StudyQuery(patient_id="P-SEARCH", date_from=date(2024, 2, 1))) == []


def test_series_listing_gives_number_modality_description_and_image_count(client, searched) -> None:
    assert client.list_series(searched.study_uid) == [
        SeriesListing(searched.ct_uid, 2, "CT", "HEAD CT", 1), SeriesListing(searched.mr_uid, 3, "MR", "AX FLAIR", 8)]


def test_retrieved_series_gives_what_the_uploaded_files_give(client, searched, model) -> None:
    analysis = fetch_and_analyse(client, searched.study_uid, mr_listing(client, searched), model)
    uploaded = analyse_study(read_study(searched.mr_files), model)
    np.testing.assert_array_equal(analysis.view.result.mask, uploaded.mask)
    assert analysis.view.result.tumour_volume_ml == pytest.approx(CUBE_VOXELS / 1000)
    assert [int(ds.InstanceNumber) for ds in analysis.sources] == list(range(1, 9))  # slice order, source kept


def test_chosen_slices_are_analysed_alone(client, searched, model) -> None:
    numbers = [index + 1 for index in CUBE_SLICES]
    analysis = fetch_and_analyse(client, searched.study_uid, mr_listing(client, searched), model, numbers)
    assert [int(ds.InstanceNumber) for ds in analysis.sources] == numbers
    assert int(analysis.view.result.mask.sum()) == CUBE_VOXELS and analysis.view.result.geometry_note is None


def test_non_mr_series_gets_one_sentence_before_anything_is_fetched(client, searched, model) -> None:
    ct = next(s for s in client.list_series(searched.study_uid) if s.modality == "CT")
    with pytest.raises(PacsError) as caught:
        fetch_and_analyse(client, searched.study_uid, ct, model)
    assert str(caught.value) == 'Series 2 "HEAD CT" is a CT series, not MR; only MR series of the brain can be ' \
        "analysed."


def test_wrong_password_gets_one_sentence_without_the_password(orthanc, searched) -> None:
    wrong = replace(read_config({}, orthanc.environ), password="not-the-password")
    with pytest.raises(PacsError) as caught:
        PacsClient(wrong).search_studies(StudyQuery(patient_id="P-SEARCH"))
    assert str(caught.value).startswith(f"The PACS at {orthanc.rest_url} refused the sign-in (HTTP 401)")
    assert "not-the-password" not in str(caught.value) and orthanc.password not in str(caught.value)


# --- store and read back ------------------------------------------------------------------------------------------

def test_results_are_new_series_in_the_source_study(client, round_trip) -> None:
    study, analysis, sent = round_trip
    listing = {s.modality: s for s in client.list_series(study.study_uid)}
    assert set(listing) == {"CT", "MR", "SEG", "OT", "DOC"}
    assert [listing[m].number for m in ("SEG", "OT", "DOC")] == [4, 5, 6]  # after the acquired series
    assert {listing[m].description for m in ("SEG", "OT", "DOC")} == set(DESCRIPTIONS.values())
    source_uids = {str(ds.SOPInstanceUID) for ds in analysis.sources}
    for ds in sent.instances:
        assert ds.StudyInstanceUID == study.study_uid and ds.PatientID == "P-TRIP"
        assert ds.SeriesInstanceUID not in (study.mr_uid, study.ct_uid) and ds.SOPInstanceUID not in source_uids


def test_seg_read_back_references_the_sources_and_equals_the_mask(client, round_trip, tiny_weights) -> None:
    study, analysis, _ = round_trip
    (stored,) = result_series(client, study.study_uid, "SEG")
    seg = hd.seg.Segmentation.from_dataset(stored)
    mask = analysis.view.result.mask
    tumour = [index for index in range(len(mask)) if mask[index].any()]
    assert list(tumour) == list(CUBE_SLICES) and int(stored.NumberOfFrames) == len(tumour)
    referenced = {uid for _, _, uid in seg.get_source_image_uids()}
    assert referenced == {str(ds.SOPInstanceUID) for ds in analysis.sources}
    frame_sources = {str(frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)
                     for frame in stored.PerFrameFunctionalGroupsSequence}
    tumour_sources = [str(analysis.sources[index].SOPInstanceUID) for index in tumour]
    assert frame_sources == set(tumour_sources)  # one frame per tumour-bearing slice, on its own source image
    pixels = seg.get_pixels_by_source_instance(tumour_sources, segment_numbers=[1])[..., 0]
    np.testing.assert_array_equal(pixels, mask[tumour])
    algorithm = stored.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0]
    version = read_model_version(TUMOUR_NET, tiny_weights)
    assert algorithm.AlgorithmName == TUMOUR_NET and version.sha256[:16] in algorithm.AlgorithmVersion
    assert version.sha256 in algorithm.AlgorithmParameters


def test_secondary_captures_show_each_tumour_slice_with_its_outline(client, round_trip) -> None:
    study, analysis, _ = round_trip
    captures = sorted(result_series(client, study.study_uid, "OT"), key=lambda ds: int(ds.InstanceNumber))
    view = analysis.view
    assert len(captures) == len(CUBE_SLICES)
    for capture, index in zip(captures, CUBE_SLICES, strict=True):
        expected = overlay_mask(view.volume.pixels[index], view.result.mask[index], 1.0, "outline")
        np.testing.assert_array_equal(capture.pixel_array, expected)
        assert capture.BurnedInAnnotation == "YES" and capture.PatientOrientation == ["L", "P"]
        assert capture.SourceImageSequence[0].ReferencedSOPInstanceUID == analysis.sources[index].SOPInstanceUID


def test_pdf_report_read_back_has_the_bytes_sent_and_names_the_patient(client, round_trip) -> None:
    study, _, sent = round_trip
    (stored,) = result_series(client, study.study_uid, "DOC")
    assert stored.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert stored.MIMETypeOfEncapsulatedDocument == "application/pdf"
    pdf = bytes(stored.EncapsulatedDocument)[: int(stored.EncapsulatedDocumentLength)]
    assert pdf == bytes(sent.report.EncapsulatedDocument) and pdf.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Roundtrip, John" in text and "P-TRIP" in text and "0.6" in text  # 600 voxels of 1 mm³


def test_a_second_send_takes_the_next_series_numbers(client, round_trip, tiny_weights) -> None:
    analysis = round_trip[1]
    again = send_results(client, analysis, read_model_version(TUMOUR_NET, tiny_weights), read_cards(tiny_weights))
    assert [int(ds.SeriesNumber) for ds in again.instances[:2]] == [7, 8] and int(again.report.SeriesNumber) == 9


# --- the command line ---------------------------------------------------------------------------------------------

def run_cli(monkeypatch, environ: dict[str, str], tmp_path: Path, weights: Path, *flags: str) -> list[dict]:
    """``python -m core pacs`` through its own parser (the lead wires it into ``core.__main__``)."""
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    parser = argparse.ArgumentParser()
    pacs_cli.add_arguments(parser.add_subparsers(dest="command").add_parser("pacs"))
    out = tmp_path / "out.json"
    pacs_cli.run(parser.parse_args(["pacs", *flags, "--json", str(out), "--weights", str(weights)]))
    return json.loads(out.read_text())


def test_cli_store_writes_one_row_per_mr_series_with_the_stored_uids(orthanc, client, tiny_weights, tmp_path,
                                                                     monkeypatch) -> None:
    study = load_synthetic_study(orthanc, "P-CLI", "Shell^Sam", "20240301")
    (row,) = run_cli(monkeypatch, orthanc.environ, tmp_path, tiny_weights, "--url", orthanc.dicomweb_url,
                     "--study", study.study_uid, "--store")
    assert set(row) == {"study_uid", "series_uid", "series", "error", *RESULT_KEYS, "stored"}
    assert row["error"] is None and row["series_uid"] == study.mr_uid
    assert row["tumour_volume_ml"] == pytest.approx(CUBE_VOXELS / 1000) and row["type"] == "glioma"
    stored = {s.modality: s.uid for s in client.list_series(study.study_uid)}
    assert (row["stored"]["seg_series_uid"], row["stored"]["capture_series_uid"], row["stored"]["report_series_uid"]) \
        == (stored["SEG"], stored["OT"], stored["DOC"])
    assert len(row["stored"]["capture_instance_uids"]) == len(CUBE_SLICES)


@pytest.mark.parametrize(("case", "phrase"), [("wrong password", "refused the sign-in (HTTP 401)"),
                                              ("server down", "cannot be reached"),
                                              ("CT series", 'is a CT series, not MR')])
def test_cli_failures_are_error_rows_of_one_sentence(orthanc, searched, tiny_weights, tmp_path, monkeypatch,
                                                     case, phrase) -> None:
    environ, url, flags = dict(orthanc.environ), orthanc.dicomweb_url, ["--store"]
    if case == "wrong password":
        environ["DICOMWEB_PASSWORD"] = "not-the-password"
    elif case == "server down":
        from browser_support import free_port

        url = f"http://127.0.0.1:{free_port()}/dicom-web"
    else:
        flags += ["--series", searched.ct_uid]
    (row,) = run_cli(monkeypatch, environ, tmp_path, tiny_weights, "--url", url, "--study", searched.study_uid,
                     *flags)
    assert phrase in row["error"] and row["error"].endswith(".") and "\n" not in row["error"]
    assert all(row[key] is None for key in RESULT_KEYS) and row["stored"] is None
    assert "not-the-password" not in row["error"]
