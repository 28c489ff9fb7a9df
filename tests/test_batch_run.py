"""Records written as they finish, and a stopped run continued without redoing finished files (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import brain_slice, write_image

import core.cli.batch_run
from core.cli.batch import Source, result_record
from core.cli.batch_run import JsonSink, ParquetSink, parquet_schema, run_batch
from core.models.analysis import FileResult

REPO = Path(__file__).resolve().parents[1]
SOURCES = [(f"scans/{index}.png", Path(f"{index}.png")) for index in range(5)]


class FakeEngine:
    """Answers each file with a record naming it, in batches of two; remembers which files it was asked for."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.asked: list[str] = []
        self.stop_after = stop_after

    def __call__(self, sources: list[Source]) -> Iterator[list[dict]]:
        self.asked += [file for file, _ in sources]
        records = [{**result_record(file, FileResult(relative.name, error=f"{relative.name} is fake.")),
                    "type": "glioma"} for file, relative in sources]
        for start in range(0, len(records), 2):
            if self.stop_after is not None and start >= self.stop_after:
                raise KeyboardInterrupt  # the run is stopped here
            yield records[start:start + 2]


def files_of(records: list[dict]) -> list[str]:
    return [record["file"] for record in records]


def test_a_finished_json_run_writes_input_order_and_leaves_no_journal(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    run_batch(SOURCES[::-1][:2] + SOURCES[:3], JsonSink(out), FakeEngine())
    assert files_of(json.loads(out.read_text())) == [file for file, _ in SOURCES[::-1][:2] + SOURCES[:3]]
    assert not (tmp_path / "out.json.partial").exists()


def test_a_stopped_json_run_continues_without_redoing_finished_files(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt):
        run_batch(SOURCES, JsonSink(out), FakeEngine(stop_after=2))
    journal = tmp_path / "out.json.partial"
    assert not out.exists() and files_of(map(json.loads, journal.read_text().splitlines())) == ["scans/0.png",
                                                                                               "scans/1.png"]
    with open(journal, "a") as handle:
        handle.write('{"file": "scans/2.png", "err')  # the record a kill cut short is analysed again
    engine = FakeEngine()
    run_batch(SOURCES, JsonSink(out), engine)
    assert engine.asked == ["scans/2.png", "scans/3.png", "scans/4.png"]
    assert files_of(json.loads(out.read_text())) == [file for file, _ in SOURCES]
    assert not journal.exists()


def test_a_rerun_after_a_finished_json_run_analyses_everything_again(tmp_path: Path) -> None:
    run_batch(SOURCES, JsonSink(tmp_path / "out.json"), FakeEngine())
    engine = FakeEngine()
    run_batch(SOURCES, JsonSink(tmp_path / "out.json"), engine)
    assert engine.asked == [file for file, _ in SOURCES]


def test_parquet_parts_hold_every_record_once_and_a_stopped_run_keeps_what_it_finished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core.cli.batch_run, "PART_ROWS", 3)
    with pytest.raises(KeyboardInterrupt):
        run_batch(SOURCES, ParquetSink(tmp_path / "parts"), FakeEngine(stop_after=4))
    assert sorted(files_of(pq.read_table(tmp_path / "parts").to_pylist())) == ["scans/0.png", "scans/1.png",
                                                                                "scans/2.png", "scans/3.png"]
    engine = FakeEngine()
    run_batch(SOURCES, ParquetSink(tmp_path / "parts"), engine)
    assert engine.asked == ["scans/4.png"]
    rows = pq.read_table(tmp_path / "parts").to_pylist()
    assert sorted(files_of(rows)) == [file for file, _ in SOURCES]
    assert {row["type"] for row in rows} == {"glioma"} and rows[0]["error"].endswith(" is fake.")
    assert not list((tmp_path / "parts").glob(".*"))  # no half-written part left behind


def test_parquet_columns_are_the_record_keys() -> None:
    keys = set(result_record("x.png", FileResult("x.png", error="x.png is broken."))) | {"mask_file", "heatmap_file"}
    assert set(parquet_schema().names) == keys


def test_local_cli_writes_the_same_records_to_parquet_as_to_json(tmp_path: Path, tiny_weights: Path) -> None:
    for seed, name in enumerate(["a.png", "b.jpg"]):
        write_image(tmp_path / "in" / name, brain_slice(seed=seed), "PNG" if name.endswith("png") else "JPEG")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG broken")
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\n" + "".join(f"{tmp_path / 'in' / name}\n" for name in ["a.png", "b.jpg", "broken.png"]))
    for flag, target in (("--json", tmp_path / "out.json"), ("--parquet", tmp_path / "parts")):
        command = [sys.executable, "-m", "core", "predict", "--manifest", str(manifest), flag, str(target),
                   "--weights", str(tiny_weights)]
        process = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert process.returncode == 0, process.stderr[-2000:]
    from_json = json.loads((tmp_path / "out.json").read_text())
    from_parquet = {row["file"]: row for row in pq.read_table(tmp_path / "parts").to_pylist()}
    assert files_of(from_json) == [str(tmp_path / "in" / name) for name in ["a.png", "b.jpg", "broken.png"]]
    for record in from_json:
        row = from_parquet[record["file"]]
        probabilities = row.pop("probabilities")
        assert (dict(probabilities) if probabilities is not None else None) == record.pop("probabilities")
        assert {key: row[key] for key in record} == record
    assert from_json[2]["error"].startswith("broken.png ") and from_json[2]["type"] is None
