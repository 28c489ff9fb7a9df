"""Inputs of a batch (issue 14): manifests of paths and URIs, reading URIs, and a local engine that never loads Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import brain_slice, write_image

from core.cli.batch import analyze_file, list_sources, load_analysers, read_manifest
from core.io.errors import InputError

REPO = Path(__file__).resolve().parents[1]


def test_csv_manifest_lists_paths_and_uris_in_order_without_blank_rows(tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("id,path\n1,/archive/a/one.png\n2,\n3,s3://bucket/b/two.dcm\n4, rel/three.jpg \n")
    assert read_manifest(manifest) == [("/archive/a/one.png", Path("archive/a/one.png")),
                                       ("s3://bucket/b/two.dcm", Path("bucket/b/two.dcm")),
                                       ("rel/three.jpg", Path("rel/three.jpg"))]


def test_parquet_manifest_reads_its_path_column(tmp_path: Path) -> None:
    manifest = tmp_path / "list.parquet"
    pq.write_table(pa.table({"path": ["x/a.png", None, "y/b.png"], "size": [1, 2, 3]}), manifest)
    assert [file for file, _ in read_manifest(manifest)] == ["x/a.png", "y/b.png"]


def test_manifest_names_never_lead_masks_out_of_their_folder(tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\n../../etc/evil.png\n./a/../b.png\n")
    relatives = [relative for _, relative in read_manifest(manifest)]
    assert relatives == [Path("etc/evil.png"), Path("a/b.png")]
    assert all(".." not in relative.parts and not relative.is_absolute() for relative in relatives)


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("list.csv", "file\na.png\n", "has no 'path' column"),
    ("list.txt", "path\na.png\n", "is not a manifest"),
    ("list.parquet", "not parquet at all", "cannot be read"),
])
def test_a_bad_manifest_is_refused_in_one_sentence(tmp_path: Path, name: str, content: str, expected: str) -> None:
    manifest = tmp_path / name
    manifest.write_text(content)
    with pytest.raises(InputError, match=expected) as caught:
        read_manifest(manifest)
    assert str(caught.value).endswith(".") and "\n" not in str(caught.value)


def test_a_missing_manifest_is_refused_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^The manifest gone\.csv cannot be read \("):
        read_manifest(tmp_path / "gone.csv")


def test_sources_are_folder_files_then_manifest_files(tmp_path: Path) -> None:
    write_image(tmp_path / "scans" / "s.png", brain_slice(), "PNG")
    (tmp_path / "list.csv").write_text("path\n/elsewhere/t.png\n")
    assert list_sources([tmp_path / "scans"], tmp_path / "list.csv") == [
        (str(tmp_path / "scans" / "s.png"), Path("s.png")), ("/elsewhere/t.png", Path("elsewhere/t.png"))]


def test_file_uris_are_read_and_unreadable_uris_get_one_sentence(tmp_path: Path, tiny_weights: Path) -> None:
    image = write_image(tmp_path / "slice.png", brain_slice(), "PNG")
    models, detector = load_analysers(tiny_weights)
    by_path, by_uri = analyze_file(image, models, detector), analyze_file(image.as_uri(), models, detector)
    assert by_uri.error is None and by_uri.name == image.name
    assert by_uri.analysis.type_probabilities == by_path.analysis.type_probabilities
    for missing in (tmp_path / "gone.png", (tmp_path / "gone.png").as_uri(), "nosuchscheme://host/gone.png"):
        error = analyze_file(missing, models, detector).error
        assert error.startswith("gone.png cannot be read (") and error.endswith(").") and "\n" not in error


def test_the_local_engine_never_imports_ray() -> None:
    code = ("import sys, core.__main__, core.cli.predict; from core.cli.predict import make_engine; "
            "make_engine('local', None, None); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
