#!/usr/bin/env bash
# Reproduce every shipped weight file and card, in dependency order, one training at a time (on this 2-core CPU the
# network's four stages take about 85 + 77 + 71 + 37 minutes; the campaign resumes where it stopped if a session ends first).
# Usage: bash training/reproduce.sh   (from the repository root, after `make test` created .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m training.campaign --hours 24      # 192 px -> 224 px -> fine-tune -> scanner-like fine-tune -> export_litert -> evaluate_tumour_net -> fit_ood -> external, volumes -> bench
$PY -m benchmarks.bench --training        # weights/benchmarks.json: training throughput
$PY -m benchmarks.load_test               # weights/load_test.json
$PY -m benchmarks.bench_pacs              # weights/pacs_bench.json (needs orthanc and orthanc-dicomweb)
$PY -m training.tune_tumour_net           # weights/tumour_net_study.json (optional: a short variant study)
