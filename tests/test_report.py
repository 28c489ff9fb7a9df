"""The PDF report: structure, text, images, Unicode names and size, from hand-built analyses (no models needed)."""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import save_tiny_network
from fake_cards import CLASS_NAMES, tumour_net_card
from PIL import Image
from pypdf import PdfReader
from scipy import ndimage

from core.cli.report import add_patient_arguments, build_report_for_files, patient_from_args
from core.models.analysis import Analysis
from core.present.findings import LOW_CONFIDENCE, describe_findings
from core.present.summaries import DISCLAIMER
from core.report.patient import PatientFields
from core.report.pdf import (
    ReportSlice,
    build_report,
    make_report_slice,
    read_app_version,
)

GENERATED_AT = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
DIACRITIC_NAME = "Zażółć gęślą jaźń Muñoz-Müller"


def phantom(size: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A head-like slice in [0, 1] with textured brain and a bright lesion, the lesion's mask, and a heatmap on it."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size] / size
    head = ((rows - 0.5) / 0.42) ** 2 + ((cols - 0.5) / 0.34) ** 2
    texture = ndimage.gaussian_filter(rng.normal(size=(size, size)), size / 60)
    pixels = np.where(head < 1, 0.35 + 0.8 * texture, 0.0) + np.where((head > 0.85) & (head < 1), 0.4, 0.0)
    lesion = ((rows - 0.38) / 0.08) ** 2 + ((cols - 0.6) / 0.1) ** 2
    pixels = np.clip(pixels + np.where(lesion < 1, 0.4, 0.0) + rng.normal(0, 0.02, pixels.shape), 0, 1)
    heatmap = np.exp(-lesion / 2)
    return pixels.astype(np.float32), (lesion < 1).astype(np.uint8), heatmap.astype(np.float32)


def analysis_for(mask: np.ndarray | None, probs: tuple[float, ...] = (0.05, 0.87, 0.03, 0.05),
                 tumour_probability: float | None = 0.93, missing: tuple[str, ...] = ()) -> Analysis:
    """An Analysis as core.models.analysis.analyze would fill it, with the given numbers."""
    result = Analysis(missing_models=list(missing))
    if "tumour_net" not in missing:
        result.class_names = CLASS_NAMES
        result.type_probabilities = dict(zip(CLASS_NAMES, probs, strict=True))
        result.predicted_type = max(result.type_probabilities, key=result.type_probabilities.get)
        result.tumour_probability = tumour_probability
        result.tumour_present = tumour_probability >= 0.42
    if mask is not None:
        result.mask = mask
        result.mask_area_px = int(mask.sum())
        result.mask_area_fraction = result.mask_area_px / mask.size
        result.brain_area_fraction = result.mask_area_fraction * 2
        result.mask_area_mm2 = result.mask_area_px * 0.25
    return result


def full_slice(name: str = "slice_001.png", size: int = 256, seed: int = 0) -> ReportSlice:
    pixels, mask, heatmap = phantom(size, seed)
    return make_report_slice(name, pixels, analysis_for(mask), heatmap)


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    data_root = tmp_path_factory.mktemp("data")
    return {"tumour_net": tumour_net_card(data_root)}


def report_pages(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace (line breaks included) collapsed to one space."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def image_counts(pdf: bytes) -> list[int]:
    """Image XObjects drawn on each page."""
    counts = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        xobjects = page["/Resources"].get_object().get("/XObject", {})
        counts.append(sum(1 for ref in xobjects.values() if ref.get_object()["/Subtype"] == "/Image"))
    return counts


def test_report_has_a_context_page_and_one_page_per_slice(cards: dict) -> None:
    pdf = build_report([full_slice("a.png"), full_slice("b.png", seed=1)], None, cards, "0.1.0", GENERATED_AT)
    pages = report_pages(pdf)
    assert pdf.startswith(b"%PDF")
    assert len(pages) == 3
    assert "Slice 1 of 2: a.png" in pages[1] and "Slice 2 of 2: b.png" in pages[2]
    assert "2026-11-22 09:30 UTC" in pages[0] and "0.1.0" in pages[0]


def test_disclaimer_and_page_number_are_on_every_page(cards: dict) -> None:
    pages = report_pages(build_report([full_slice(), full_slice(seed=1)], None, cards, "0.1.0", GENERATED_AT))
    for number, text in enumerate(pages, start=1):
        assert DISCLAIMER in text, f"page {number} lacks the disclaimer"
        assert f"Page {number} of {len(pages)}" in text


def test_slice_page_shows_class_names_probabilities_and_measurements(cards: dict) -> None:
    text = report_pages(build_report([full_slice()], None, cards, "0.1.0", GENERATED_AT))[1]
    for label in ("glioma", "meningioma", "no tumour", "pituitary"):
        assert label in text
    assert "87.0%" in text and "5.0%" in text
    assert "found (93%)" in text
    assert "pixels" in text and "mm²" in text and "Share of the brain" in text
    assert "most likely type is meningioma (87%)" in text
    assert "This is not a diagnosis; a radiologist must confirm." in text


def test_each_slice_page_embeds_its_three_images(cards: dict) -> None:
    pdf = build_report([full_slice(), full_slice(seed=1)], None, cards, "0.1.0", GENERATED_AT)
    assert image_counts(pdf) == [0, 3, 3]


def test_missing_network_leaves_framed_notes_instead_of_images(cards: dict) -> None:
    pixels, _, _ = phantom(128)
    report_slice = make_report_slice("plain.png", pixels, analysis_for(None, missing=("tumour_net",)))
    pdf = build_report([report_slice], None, cards, "0.1.0", GENERATED_AT)
    assert image_counts(pdf) == [0, 1]
    text = report_pages(pdf)[1]
    assert "Tumour network not installed" in text
    assert "No tumour type, presence or outline is given" in text


def test_diacritic_patient_name_round_trips_through_text_extraction(cards: dict) -> None:
    patient = PatientFields(name=DIACRITIC_NAME, patient_id="PL-0042", referring_physician="Dr. Ångström")
    pages = report_pages(build_report([full_slice()], patient, cards, "0.1.0", GENERATED_AT))
    assert DIACRITIC_NAME in pages[0] and "Dr. Ångström" in pages[0] and "PL-0042" in pages[0]
    assert DIACRITIC_NAME in pages[1], "the running header names the patient on later pages"
    assert "De-identified" not in pages[0]


def test_report_without_patient_details_says_de_identified(cards: dict) -> None:
    pages = report_pages(build_report([full_slice()], PatientFields(notes="  "), cards, "0.1.0", GENERATED_AT))
    assert "De-identified" in pages[0] and "Notes" not in pages[0]


def test_missing_cards_and_keys_read_not_available(cards: dict) -> None:
    partial = {"tumour_net": {"run": {"date": "2026-01-02T03:04:05+00:00"},
                              "type": {"test": {"kaggle_official": {"accuracy": 0.9}}}}}
    text = report_pages(build_report([full_slice()], None, partial, "0.1.0", GENERATED_AT))[0]
    assert "2026-01-02 03:04" in text and "90.0%" in text
    assert "not available" in text
    assert report_pages(build_report([full_slice()], None, {}, "0.1.0", GENERATED_AT))


def test_model_block_prints_card_numbers(cards: dict) -> None:
    text = report_pages(build_report([full_slice()], None, cards, "0.1.0", GENERATED_AT))[0]
    assert "Type accuracy, official test 95.2%" in text
    assert "Presence sensitivity, Kaggle test 94.0%" in text
    assert "LGG test per-patient mean Dice 0.600" in text


def test_overview_flags_disagreement_and_low_confidence(cards: dict) -> None:
    pixels, mask, heatmap = phantom(128)
    unsure = analysis_for(mask, probs=(0.45, 0.40, 0.05, 0.10))
    conflicting = analysis_for(mask, probs=(0.02, 0.03, 0.9, 0.05))
    conflicting.disagreements = ["A tumour is reported, but the network outlines no region large enough to show."]
    slices = [make_report_slice("unsure.png", pixels, unsure, heatmap),
              make_report_slice("conflict.png", pixels, conflicting, heatmap)]
    pages = report_pages(build_report(slices, None, cards, "0.1.0", GENERATED_AT))
    assert "uncertain type" in pages[0] and "answers disagree" in pages[0]
    assert "A tumour is reported, but the network outlines no region large enough to show." in pages[2]


def test_empty_slice_list_is_refused(cards: dict) -> None:
    with pytest.raises(ValueError, match="at least one"):
        build_report([], None, cards, "0.1.0")


def test_summary_wording_changes_with_the_finding() -> None:
    confident = describe_findings(analysis_for(None))
    assert confident.startswith("The model's most likely type is meningioma (87%)")
    assert confident.endswith("This is not a diagnosis; a radiologist must confirm.")
    low = describe_findings(analysis_for(None, probs=(0.5, 0.3, 0.1, 0.1)))
    assert 0.5 < LOW_CONFIDENCE and "unsure" in low and "undetermined" in low
    clear = describe_findings(analysis_for(np.zeros((8, 8), np.uint8), probs=(0.02, 0.03, 0.9, 0.05),
                                           tumour_probability=0.05))
    assert "finds no tumour" in clear and "not ruled out" in clear and "No tumour region is outlined" in clear
    conflicted = analysis_for(None, probs=(0.02, 0.03, 0.9, 0.05))
    conflicted.disagreements = ["conflict"]
    assert describe_findings(conflicted).startswith("The network's answers do not fully agree")
    nothing = describe_findings(Analysis(missing_models=["tumour_net"]))
    assert "no result" in nothing and "tumour network is not installed" in nothing


def seconds_to_build(slices: list[ReportSlice], cards: dict, runs: int = 1) -> tuple[float, bytes]:
    """The best time of ``runs`` builds (more runs keep a busy CPU from failing a tight limit) and the PDF."""
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        pdf = build_report(slices, None, cards, "0.1.0")
        timings.append(time.perf_counter() - start)
    return min(timings), pdf


def test_one_slice_report_builds_within_a_second(cards: dict) -> None:
    seconds, _ = seconds_to_build([full_slice(size=512)], cards, runs=2)
    assert seconds < 1.0


def test_twenty_slice_report_stays_under_ten_seconds_and_ten_megabytes(cards: dict) -> None:
    seconds, pdf = seconds_to_build([full_slice(f"s{seed}.png", size=512, seed=seed) for seed in range(20)], cards)
    assert seconds < 10.0
    assert len(pdf) < 10_000_000
    assert len(report_pages(pdf)) >= 21


def test_app_version_comes_from_pyproject() -> None:
    assert read_app_version().count(".") >= 1


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_pages_render_with_poppler(cards: dict, tmp_path: Path) -> None:
    pdf_path = tmp_path / "report.pdf"
    pdf_path.write_bytes(build_report([full_slice()], PatientFields(name=DIACRITIC_NAME), cards, "0.1.0"))
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf_path), str(tmp_path / "page")], check=True, timeout=60)
    assert len(sorted(tmp_path.glob("page*.png"))) == 2


def test_report_command_writes_one_page_per_readable_file(tmp_path: Path) -> None:
    weights, scans = tmp_path / "weights", tmp_path / "scans"
    weights.mkdir()
    scans.mkdir()
    save_tiny_network(weights)
    for seed in (0, 1):
        Image.fromarray((phantom(96, seed)[0] * 255).astype(np.uint8)).save(scans / f"scan_{seed}.png")
    (scans / "notes.txt").write_text("not an image")
    parser = argparse.ArgumentParser()
    add_patient_arguments(parser)
    patient = patient_from_args(parser.parse_args(["--patient-name", DIACRITIC_NAME, "--study-date", "2026-11-20"]))
    out = tmp_path / "report.pdf"

    errors = build_report_for_files([scans], out, patient, weights)

    assert len(errors) == 1 and "notes.txt" in errors[0]
    pdf = out.read_bytes()
    pages = report_pages(pdf)
    assert len(pages) == 3 and DIACRITIC_NAME in pages[0] and "2026-11-20" in pages[0]
    assert "scan_0.png" in pages[1] and "scan_1.png" in pages[2]
    assert image_counts(pdf) == [0, 3, 3]
