#!/usr/bin/env bash
# Reproduce every shipped weight file and card, in dependency order, on this 2-core CPU (about 2 hours).
# Usage: bash training/reproduce.sh   (from the repository root, after `make test` or `make run` created .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m training.tune_classifier                                               # weights/classifier_study.json
$PY -m training.train_classifier --from-study weights/classifier_study.json  # weights/classifier.{keras,json}
$PY -m training.fit_ood                                                       # weights/ood.{npz,json}
$PY -m training.train_segmenter --epochs 6 --compare-epochs 1                 # weights/segmenter.{keras,json}
$PY -m training.train_presence                                               # weights/presence.{keras,json}
$PY -m training.bench                                                         # weights/benchmarks.json
$PY -m training.load_test                                                     # weights/load_test.json
