"""End to end: ``python -m core predict`` on nested folders of good and broken files, with tiny models."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import brain_slice, encode
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
GOOD = {  # relative path -> (height, width); both scan.png files share a stem on purpose
    "a/good.png": (70, 90),
    "a/deep/other.jpg": (60, 84),
    "b/scan.png": (64, 48),
    "c/scan.png": (50, 40),
}
BROKEN = ["broken/empty.png", "broken/notes.png", "broken/deep/truncated.png"]
KEYS = {"file", "error", "type", "probabilities", "tumour_probability", "tumour_present", "mask_area_px",
        "mask_area_fraction", "mask_file", "heatmap_file"}


def write_inputs(root: Path) -> None:
    for seed, (relative, (height, width)) in enumerate(GOOD.items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(brain_slice(height, width, seed), "JPEG" if path.suffix == ".jpg" else "PNG"))
    (root / "broken" / "deep").mkdir(parents=True)
    (root / "broken" / "empty.png").write_bytes(b"")
    (root / "broken" / "notes.png").write_text("patient notes, not an image\n")
    png = encode(brain_slice(64, 64))
    (root / "broken" / "deep" / "truncated.png").write_bytes(png[: len(png) // 2])


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path
) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """One CLI run shared by the tests below: the process, and the records by path relative to the inputs."""
    tmp = tmp_path_factory.mktemp("cli")
    inputs, out, masks = tmp / "inputs", tmp / "out.json", tmp / "masks"
    write_inputs(inputs)
    command = [sys.executable, "-m", "core", "predict", str(inputs), "--json", str(out), "--masks-dir", str(masks),
               "--heatmaps-dir", str(tmp / "heatmaps"), "--weights", str(tiny_weights)]
    process = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    records = json.loads(out.read_text()) if out.exists() else []
    return process, {Path(r["file"]).relative_to(inputs).as_posix(): r for r in records}


def test_cli_exits_zero_with_one_object_per_file(run: tuple) -> None:
    process, records = run
    assert process.returncode == 0, process.stderr[-2000:]
    assert sorted(records) == sorted([*GOOD, *BROKEN])
    assert all(KEYS <= set(record) for record in records.values())


def test_good_files_have_results_and_no_error(run: tuple) -> None:
    records = run[1]
    for relative in GOOD:
        record = records[relative]
        assert record["error"] is None
        assert sum(record["probabilities"].values()) == pytest.approx(1.0)
        assert record["type"] in record["probabilities"]
        assert 0.0 <= record["tumour_probability"] <= 1.0 and isinstance(record["tumour_present"], bool)


def test_broken_files_get_one_sentence_naming_them(run: tuple) -> None:
    records = run[1]
    for relative in BROKEN:
        record = records[relative]
        error = record["error"]
        assert error.startswith(Path(relative).name) and error.endswith(".")
        assert "\n" not in error and not re.search(r"[.!?]\s+[A-Z]", error), error
        assert record["type"] is None and record["mask_file"] is None and record["heatmap_file"] is None


def test_masks_are_written_with_the_input_size_and_stem(run: tuple) -> None:
    records = run[1]
    for relative in ("a/good.png", "a/deep/other.jpg"):
        record, (height, width) = records[relative], GOOD[relative]
        mask_file = Path(record["mask_file"])
        assert mask_file.stem == Path(relative).stem
        with Image.open(mask_file) as image:
            assert image.size == (width, height)
            pixels = np.asarray(image)
        assert set(np.unique(pixels)) <= {0, 255}
        assert int((pixels == 255).sum()) == record["mask_area_px"]


def test_masks_of_same_named_files_in_different_folders_do_not_overwrite_each_other(run: tuple) -> None:
    records = run[1]
    mask_files = {relative: records[relative]["mask_file"] for relative in ("b/scan.png", "c/scan.png")}
    assert len(set(mask_files.values())) == 2, mask_files
    for relative, mask_file in mask_files.items():
        with Image.open(mask_file) as image:
            assert image.size == GOOD[relative][::-1]


def test_heatmaps_are_grey_pngs_of_the_input_size_beside_the_masks_naming(run: tuple) -> None:
    records = run[1]
    for relative, (height, width) in GOOD.items():
        heatmap_file = Path(records[relative]["heatmap_file"])
        assert heatmap_file.stem == Path(relative).stem
        assert heatmap_file.parent.name == Path(records[relative]["mask_file"]).parent.name
        with Image.open(heatmap_file) as image:
            assert image.mode == "L" and image.size == (width, height)
            assert np.asarray(image).max() > 0
