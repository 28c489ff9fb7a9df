"""Run a batch with either engine and write its records as they finish, so a stopped run continues where it stopped.

JSON (``--json OUT.json``, or standard output without it): while the run goes, every finished record is appended to
the journal ``OUT.json.partial`` (JSON Lines); once every file is done, ``OUT.json`` gets the list in input order
(what the local engine has always written) and the journal is removed. A rerun after a stop finds the journal and
skips the files in it; a finished run leaves none, so a rerun then analyses everything again.

Parquet (``--parquet DIR``, for archives: the JSON list is held in memory): records go to ``DIR/part-*.parquet``
files of up to :data:`PART_ROWS` rows, each written whole under a hidden name and then renamed, in the order files
finish. A rerun skips every file already in a part; start in an empty folder to analyse everything again.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from core.cli.batch import Source, write_records

Engine = Callable[[list[Source]], Iterable[list[dict]]]
"""Analyses the given inputs and yields their records in batches, as they finish (local loop or Ray actors)."""
JOURNAL_SUFFIX = ".partial"
PART_ROWS = 1000
"""Rows per Parquet part: large enough for few files, small enough that a stop loses little work."""


class ResultSink:
    """Where a run's records go; ``done`` holds the files an earlier, stopped run already finished."""

    done: set[str]
    name: str

    def append(self, records: list[dict]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write what is held back; called whenever the run stops, finished or not."""

    def finish(self, files: list[str]) -> None:
        """Every file of ``files`` (the run's inputs, in order) has its record: put the output together."""


class JsonSink(ResultSink):
    """The JSON list of records, to ``out`` or to standard output, journaled while the run goes when ``out`` is set."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.journal = None if out is None else out.with_name(out.name + JOURNAL_SUFFIX)
        self.name = str(self.journal)
        self.records = [] if self.journal is None else _compact_journal(self.journal)
        self.done = {record["file"] for record in self.records}

    def append(self, records: list[dict]) -> None:
        self.records += records
        if self.journal is not None:
            with open(self.journal, "a", encoding="utf-8") as handle:
                handle.write("".join(json.dumps(record) + "\n" for record in records))

    def finish(self, files: list[str]) -> None:
        order = {file: index for index, file in enumerate(files)}
        records = [record for record in self.records if record["file"] in order]  # a journal may hold other files
        write_records(sorted(records, key=lambda record: order[record["file"]]), self.out)
        if self.journal is not None:
            self.journal.unlink(missing_ok=True)


def _compact_journal(journal: Path) -> list[dict]:
    """The records of a stopped run's journal, rewritten without the line a kill may have cut short."""
    if not journal.exists():
        return []
    records = []
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the record being written when the run stopped: its file is analysed again
    journal.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return records


def parquet_schema():
    """The columns of a Parquet part: a record's keys (``probabilities`` is a class -> probability map)."""
    import pyarrow as pa  # only Parquet output and manifests need pyarrow

    text, number = pa.string(), pa.float64()
    return pa.schema([("file", text), ("error", text), ("type", text),
                      ("probabilities", pa.map_(text, number)), ("tumour_probability", number),
                      ("tumour_present", pa.bool_()), ("mask_area_px", pa.int64()), ("mask_area_fraction", number),
                      ("disagreements", pa.list_(text)), ("ood", pa.bool_()), ("ood_score", number),
                      ("ood_looks_like", text), ("mask_file", text), ("heatmap_file", text)])


class ParquetSink(ResultSink):
    """Records as Parquet parts in ``folder``, for outputs too large for one JSON list."""

    def __init__(self, folder: Path) -> None:
        import pyarrow.parquet as pq

        self.folder, self.name, self._held = Path(folder), str(folder), []
        self.folder.mkdir(parents=True, exist_ok=True)
        self.done = {file for part in sorted(self.folder.glob("part-*.parquet"))
                     for file in pq.read_table(part, columns=["file"]).column("file").to_pylist()}

    def append(self, records: list[dict]) -> None:
        self._held += records
        if len(self._held) >= PART_ROWS:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._held:
            return
        schema = parquet_schema()
        table = pa.Table.from_pylist([{name: record.get(name) for name in schema.names} for record in self._held],
                                     schema=schema)
        part = self.folder / f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        hidden = part.with_name(f".{part.name}.tmp")  # readers skip hidden files; a kill leaves no half part
        pq.write_table(table, hidden)
        os.replace(hidden, part)
        self._held = []


def open_sink(out: Path | None, parquet: Path | None) -> ResultSink:
    """The sink the command line asked for: Parquet parts in ``parquet``, else the JSON list."""
    return ParquetSink(parquet) if parquet is not None else JsonSink(out)


def run_batch(sources: list[Source], sink: ResultSink, engine: Engine) -> None:
    """Analyse with ``engine`` every input the sink does not hold yet, passing records on as they finish.

    Progress goes to standard error, counting the files a resumed run had already finished.
    """
    todo = [source for source in sources if source[0] not in sink.done]
    skipped = len(sources) - len(todo)
    if skipped:
        print(f"Resuming: {skipped} of {len(sources)} files are already in {sink.name}.", file=sys.stderr)
    with tqdm(total=len(sources), initial=skipped, desc="Analysing", unit="slice", file=sys.stderr) as progress:
        try:
            for records in engine(todo) if todo else ():
                sink.append(records)
                progress.update(len(records))
        finally:
            sink.flush()
    sink.finish([file for file, _ in sources])
