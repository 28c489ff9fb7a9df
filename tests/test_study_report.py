"""The study page of the PDF report, from the Study page's view and from ``python -m core volume --report``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pypdf
import pytest
from study_builders import CUBE_VOXELS, nifti_study, series_files, shuffled, zipped

from core.__main__ import main
from core.models.cards import TUMOUR_NET
from core.models.registry import LoadedModel, load_model
from core.report.pdf import build_study_report
from core.study import view as sv
from core.study.report import view_report_pdf


@pytest.fixture(scope="module")
def model(tiny_weights: Path) -> LoadedModel:
    return load_model(TUMOUR_NET, tiny_weights)


def pages_text(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_study_page_holds_the_numbers_the_page_shows(model: LoadedModel) -> None:
    view = sv.open_study([("cube.nii", nifti_study(("I", "L", "P"))[0])], model)
    pdf = view_report_pdf(view, None, {})
    first, study = pages_text(pdf)
    assert "De-identified" in first and "one whole study" in first
    result = view.result
    for text in ("Study 1 of 1: cube.nii", f"Tumour volume {CUBE_VOXELS / 1000:.2f} ml ({CUBE_VOXELS} voxels)",
                 "Voxel volume 0.001 ml (0.5 x 0.8 x 2.5 mm)", "Slices 8 (4 analysed, 4 blank)",
                 "slice 3 (96.0 mm², largest diameter 14.4 mm)",
                 f"glioma {result.probabilities['glioma']:.1%}", "A tumour was found on 4 of 4 analysed slices",
                 "presence threshold 50.0%", "Slice 2 (neighbour)", "Slice 3 (largest tumour area)",
                 "Slice 4 (neighbour)", f"{result.tumour_probability:.1%} (on slice 3)"):
        assert text in study, text
    drawn = pypdf.PdfReader(io.BytesIO(pdf)).pages[1].get_contents().get_data().count(b" Do")
    assert drawn == 3  # the key slices (slices 2 and 4 are alike, so the file stores their picture once)


def test_broken_geometry_page_gives_its_sentence_and_no_volume(model: LoadedModel) -> None:
    view = sv.open_study(shuffled([f for i, f in enumerate(series_files()) if i != 6]), model)
    study = pages_text(view_report_pdf(view, None, {}))[1]
    assert view.result.geometry_note in study
    assert "Tumour volume" not in study and " ml" not in study and "Largest tumour slice slice 3 (240 px)" in study


def test_a_report_needs_a_study() -> None:
    with pytest.raises(ValueError, match="at least one analysed study"):
        build_study_report([], None, {}, "0")


def test_cli_report_has_one_study_page_per_analysed_study(tmp_path: Path, tiny_weights: Path, capsys) -> None:
    (tmp_path / "cube.nii").write_bytes(nifti_study()[0])
    (tmp_path / "series.zip").write_bytes(zipped(shuffled(series_files())))
    (tmp_path / "notes.nii").write_text("not a volume\n")
    out, report = tmp_path / "out.json", tmp_path / "study.pdf"
    paths = [str(tmp_path / name) for name in ("cube.nii", "notes.nii", "series.zip")]
    assert main(["volume", *paths, "--json", str(out), "--report", str(report), "--weights", str(tiny_weights),
                 "--patient-name", "Zażółć Müller"]) == 0
    rows = json.loads(out.read_text())
    assert [row["error"] is None for row in rows] == [True, False, True]
    first, *studies = pages_text(report.read_bytes())
    assert "Zażółć Müller" in first
    assert [re.search(r"Study \d of 2: (\S+)", page).group(1) for page in studies] == ["cube.nii", "series.zip"]
    assert all(f"Tumour volume {CUBE_VOXELS / 1000:.2f} ml" in page for page in studies)

    nothing = tmp_path / "none.pdf"
    assert main(["volume", str(tmp_path / "notes.nii"), "--json", str(out), "--report", str(nothing),
                 "--weights", str(tiny_weights)]) == 0
    assert not nothing.exists()
    assert "None of the studies could be analysed, so no report was written." in capsys.readouterr().err
