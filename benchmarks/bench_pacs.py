"""Measure the PACS round trip on this machine: retrieve a series over DICOMweb, analyse it, store the results.

    python -m benchmarks.bench_pacs [--slices 20] [--size 512] [--repeats 5] [--out weights/pacs_bench.json]

Starts Debian's Orthanc with its DICOMweb plugin on loopback (authentication on; :mod:`benchmarks.orthanc`), uploads
a study whose MR series is ``slices`` synthetic ``size`` x ``size`` brain-like slices with a lesion
(:func:`core.study.analyse.synthetic_volume`), and times what "Analyse" and "Send results to PACS" do with the
shipped network: WADO-RS retrieval into memory, the study analysis, and STOW-RS of the DICOM SEG, the outlined
secondary captures and the Encapsulated PDF report. The first round trip (the network traced for this batch size)
is reported apart; then ``repeats`` warm ones, median and worst. Target (issue 13): retrieve + analyse + store of a
20-slice series <= 15 s on these 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.orthanc import Orthanc, SyntheticStudy, load_synthetic_study, missing, running_orthanc
from core.models.cards import TUMOUR_NET, WEIGHTS_DIR, read_cards, write_evaluation
from core.models.registry import LoadedModel, load_model
from core.pacs.client import PacsClient, check_analysable
from core.pacs.connection import read_config
from core.pacs.export import read_model_version, send_results
from core.pacs.study import analyse_instances
from core.study.analyse import synthetic_volume
from training.common import run_metadata

TARGET_S = 15.0
STEPS = ("retrieve", "analyse", "store")


def round_trip_seconds(client: PacsClient, study: SyntheticStudy, model: LoadedModel,
                       weights: Path) -> dict[str, float]:
    """Seconds of each step of one round trip, as the PACS page runs it, and how many objects were stored."""
    (listing,) = [s for s in client.list_series(study.study_uid) if s.uid == study.mr_uid]
    check_analysable(listing, listing.name)
    marks = [time.perf_counter()]
    instances = client.retrieve_series(study.study_uid, listing.uid)
    marks.append(time.perf_counter())
    analysis = analyse_instances(instances, model, listing.name, study.study_uid, listing.uid)
    marks.append(time.perf_counter())
    sent = send_results(client, analysis, read_model_version(TUMOUR_NET, weights), read_cards(weights))
    marks.append(time.perf_counter())
    seconds = {step: marks[i + 1] - marks[i] for i, step in enumerate(STEPS)}
    return {**seconds, "total": marks[-1] - marks[0], "objects_stored": len(sent.instances),
            "tumour_present": analysis.view.result.tumour_present}


def run_pacs_benchmark(server: Orthanc, weights: Path, slices: int, size: int, repeats: int) -> dict:
    """Load the network of ``weights``, a study into ``server``, and time its round trips."""
    client = PacsClient(read_config({}, server.environ))
    model = load_model(TUMOUR_NET, weights)
    planes = np.round(synthetic_volume((slices, size, size)) * 1000).astype(np.uint16)
    study = load_synthetic_study(server, planes, "P-BENCH", "Bench^Mark", "20240401")
    first = round_trip_seconds(client, study, model, weights)
    warm = [round_trip_seconds(client, study, model, weights) for _ in range(repeats)]
    summary = {key: {"median_s": round(float(np.median([run[key] for run in warm])), 3),
                     "max_s": round(max(run[key] for run in warm), 3)} for key in (*STEPS, "total")}
    return {"series": {"slices": slices, "rows": size, "columns": size, "modality": "MR"},
            "engine": model.engine, "first_round_trip_s": {key: round(first[key], 3) for key in (*STEPS, "total")},
            "warm": summary, "repeats": repeats, "objects_stored": first["objects_stored"],
            "tumour_found": first["tumour_present"], "target_s": TARGET_S,
            "meets_target": first["total"] <= TARGET_S and summary["total"]["max_s"] <= TARGET_S}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=20)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "pacs_bench.json")
    args = parser.parse_args(argv)
    reason = missing()
    if reason:
        parser.error(reason)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder, running_orthanc(Path(folder)) as server:
        result = run_pacs_benchmark(server, WEIGHTS_DIR, args.slices, args.size, args.repeats)
    write_evaluation({**result, "run": run_metadata(
        ["benchmarks.bench_pacs", f"--slices={args.slices}", f"--size={args.size}", f"--repeats={args.repeats}"],
        time.monotonic() - started)}, args.out)
    print(f"round trip of {args.slices} slices: first {result['first_round_trip_s']}, warm {result['warm']}")


if __name__ == "__main__":
    main()
