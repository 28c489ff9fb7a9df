"""End to end: ``python -m core volume`` on a NIfTI file, DICOM folders, a zip and bad paths, with the tiny network."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from study_builders import CUBE_VOXELS, OTHER_UID, nifti_study, series_files, shuffled, zipped

from core.__main__ import main
from core.study.cli import RESULT_KEYS

REPO = Path(__file__).resolve().parents[1]
GOOD = ("cube.nii.gz", "series", "archive.zip")
BAD = ("notes.nii", "missing.nii", "mixed")
GAP = "gap"


def write_folder(folder: Path, files: list[tuple[str, bytes]]) -> None:
    """The files under ``folder``, some in a sub-folder, with a hidden file that must be left out."""
    for place, (name, data) in enumerate(files):
        path = folder / ("sub" if place % 2 else "") / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studies")
    (root / "cube.nii.gz").write_bytes(gzip.compress(nifti_study(("I", "L", "P"))[0]))
    write_folder(root / "series", shuffled(series_files()))
    (root / "archive.zip").write_bytes(zipped(shuffled(series_files(), seed=2)))
    write_folder(root / GAP, [f for i, f in enumerate(series_files()) if i != 4])
    (root / "notes.nii").write_text("patient notes, not a volume\n")
    write_folder(root / "mixed", shuffled(series_files() + series_files(5, uid=OTHER_UID, description="SAG T1")))
    return root


@pytest.fixture(scope="module")
def run(inputs: Path, tiny_weights: Path) -> tuple[subprocess.CompletedProcess, dict[str, dict], Path]:
    """One CLI run over every input: the process, the rows by input name, and the mask folder."""
    out, masks = inputs.parent / "out.json", inputs.parent / "masks"
    paths = [str(inputs / name) for name in (*GOOD, GAP, *BAD)]
    command = [sys.executable, "-m", "core", "volume", *paths, "--json", str(out),
               "--mask-out", str(masks / "mask.nii.gz"), "--weights", str(tiny_weights)]
    process = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    text = out.read_text() if out.exists() else "[]"
    assert "NaN" not in text
    return process, {Path(row["file"]).name: row for row in json.loads(text)}, masks


def test_cli_exits_zero_with_one_row_per_study_and_no_traceback(run: tuple) -> None:
    process, rows, _ = run
    assert process.returncode == 0, process.stderr[-2000:]
    assert "Traceback" not in process.stderr
    assert sorted(rows) == sorted([*GOOD, GAP, *BAD])
    assert all(set(row) == {"file", "error", *RESULT_KEYS, "mask_file"} for row in rows.values())


@pytest.mark.parametrize("name", GOOD)
def test_good_study_rows_report_the_cube(run: tuple, name: str) -> None:
    row = run[1][name]
    assert row["error"] is None and row["geometry_note"] is None
    assert row["tumour_volume_ml"] == pytest.approx(CUBE_VOXELS / 1000, rel=1e-6)
    assert row["voxel_volume_ml"] == pytest.approx(0.001)
    assert row["slices"] == 8 and row["largest_slice"] == 3
    assert row["largest_area_mm2"] == pytest.approx(96.0)
    assert row["largest_diameter_mm"] == pytest.approx(np.hypot(8, 12))
    assert row["type"] == "glioma" and set(row["probabilities"]) == {"glioma", "meningioma", "notumor", "pituitary"}
    assert [p is None for p in row["per_slice_tumour_probability"]] == [i not in range(2, 6) for i in range(8)]
    assert row["tumour_probability"] == max(p for p in row["per_slice_tumour_probability"] if p is not None)


@pytest.mark.parametrize(("name", "phrase"), [("notes.nii", "holds no DICOM images or NIfTI volume"),
                                              ("missing.nii", "cannot be read"), ("mixed", "holds 2 DICOM series")])
def test_bad_paths_get_an_error_row_of_one_sentence(run: tuple, name: str, phrase: str) -> None:
    row = run[1][name]
    assert phrase in row["error"] and "\n" not in row["error"] and row["error"].endswith(".")
    assert all(row[key] is None for key in RESULT_KEYS) and row["mask_file"] is None


def test_broken_geometry_row_says_why_and_writes_no_mask(run: tuple) -> None:
    row = run[1][GAP]
    assert row["error"] is None and row["geometry_note"].startswith("Slices are missing between")
    assert row["tumour_volume_ml"] is None and row["voxel_volume_ml"] is None and row["largest_diameter_mm"] is None
    assert row["slices"] == 7 and row["largest_slice"] is not None and row["mask_file"] is None


def test_nifti_mask_keeps_the_inputs_grid_and_affine(run: tuple, inputs: Path) -> None:
    mask_file = Path(run[1]["cube.nii.gz"]["mask_file"])
    assert mask_file == run[2] / "mask_cube.nii.gz"
    source, written = nib.load(inputs / "cube.nii.gz"), nib.load(mask_file)
    assert written.shape == source.shape and written.get_data_dtype() == np.uint8
    np.testing.assert_allclose(written.affine, source.affine)
    np.testing.assert_array_equal(np.asarray(written.dataobj), np.asarray(source.dataobj) == 1000)


@pytest.mark.parametrize("name", ["series", "archive.zip"])
def test_dicom_mask_has_the_series_geometry(run: tuple, name: str) -> None:
    written = nib.load(run[1][name]["mask_file"])
    assert written.shape == (64, 64, 8) and int(np.asarray(written.dataobj).sum()) == CUBE_VOXELS
    np.testing.assert_allclose(np.abs(np.linalg.det(written.affine[:3, :3])), 1.0, rtol=1e-5)  # 1 mm³ voxels
    np.testing.assert_allclose(written.affine[:3, 3], [10.0, -20.0, 30.0], atol=1e-4)  # the first slice, in RAS


def test_series_option_picks_one_of_mixed_series(inputs: Path, tiny_weights: Path, tmp_path: Path) -> None:
    out, mask = tmp_path / "one.json", tmp_path / "chosen.nii.gz"
    assert main(["volume", str(inputs / "mixed"), "--series", OTHER_UID, "--json", str(out),
                 "--mask-out", str(mask), "--weights", str(tiny_weights)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["error"] is None and row["slices"] == 5 and row["mask_file"] == str(mask) and mask.exists()
