"""Measure what the audit trail costs an analysis: one row written, with a long trail, a sign-in, and a lock.

    python -m benchmarks.bench_audit [--repeats 500] [--rows-before 20000] [--folder DIR]
                                     [--out weights/audit_bench.json]

Writes into a fresh temporary folder unless ``--folder`` names one on the deployment's own disk (the disk decides
the cost). Target (issue 17): an analysis slowed by at most 5 ms, a locked database included (it costs the busy
timeout, then the page shows its one warning and keeps the row for a later run).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from itertools import count
from pathlib import Path

from benchmarks.bench import time_ms
from core.app.audit import BUSY_TIMEOUT_MS, AuditEvent, AuditStore, AuditWriteError
from core.models.cards import WEIGHTS_DIR, write_evaluation
from training.common import run_metadata

TARGET_MS = 5.0
MODELS = {"tumour_net": {"sha256": "0" * 64, "trained": "2026-11-22 06:29"},
          "ood": {"sha256": "1" * 64, "trained": "2026-11-23 10:02"}}
ANSWER = {"type": "glioma", "type_probability": 0.9731, "tumour_present": True, "tumour_probability": 0.9954,
          "not_brain_mri": False}


def analysis_event(number: int) -> AuditEvent:
    """A row as the Analyse page writes it, for a new file each time."""
    return AuditEvent("analysis", "radiologist@hospital.example", f"scan_{number:06d}.dcm", f"{number:064x}",
                      ANSWER, MODELS)


def time_locked_write_ms(store: AuditStore, repeats: int) -> dict:
    """How long a write waits on a database another process holds locked before it gives up with its warning."""
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")

    def write() -> None:
        try:
            store.record(analysis_event(0))
        except AuditWriteError:
            return
        raise RuntimeError("the write went through a locked database")
    try:
        return time_ms(write, repeats)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def run_audit_benchmark(folder: Path, repeats: int, rows_before: int) -> dict:
    store, numbers = AuditStore(folder), count()
    result = {"audit_write": time_ms(lambda: store.record(analysis_event(next(numbers))), repeats)}
    for _ in range(rows_before):
        store.record(analysis_event(next(numbers)))
    result[f"audit_write_after_{rows_before}_rows"] = time_ms(
        lambda: store.record(analysis_event(next(numbers))), repeats)
    result["sign_in_once"] = time_ms(lambda: store.record(
        AuditEvent("sign_in", f"user{next(numbers)}@hospital.example", detail="ID token issued"), once=True), repeats)
    result["locked_write_until_warning"] = time_locked_write_ms(store, max(5, repeats // 50))
    result["meets_target"] = all(entry["p95_ms"] <= TARGET_MS for entry in result.values())
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=500)
    parser.add_argument("--rows-before", type=int, default=20_000)
    parser.add_argument("--folder", type=Path, default=None, help="default: a fresh temporary folder")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "audit_bench.json")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as temp:
        result = run_audit_benchmark(args.folder or Path(temp), args.repeats, args.rows_before)
    write_evaluation({**result, "target_ms": TARGET_MS, "busy_timeout_ms": BUSY_TIMEOUT_MS,
                      "folder": "given by --folder" if args.folder else "temporary folder",
                      "run": run_metadata(["benchmarks.bench_audit", f"--repeats={args.repeats}",
                                           f"--rows-before={args.rows_before}"], time.monotonic() - started)},
                     args.out)
    for name, entry in result.items():
        print(f"{name}: {entry}")


if __name__ == "__main__":
    main()
