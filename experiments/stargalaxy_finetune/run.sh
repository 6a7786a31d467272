#!/usr/bin/env bash
# run.sh - the star/galaxy fine-tuning study, from the repository root:
#   bash experiments/stargalaxy_finetune/run.sh [--threads N] [--set SECTION.KEY=V]...
# Makes the 20,000 synthetic Galaxy10 images at 64x64 once, then runs the study
# (study.ini: pretrain -> scratch and finetune on the real cutouts -> report) with
# `astrotrain experiment`; the report is runs/stargalaxy_finetune/report.{md,html}.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -s data/galaxy10_synth_20k.h5 ] ||
    ./astrotrain synth galaxy10 --out data/galaxy10_synth_20k.h5 --n 20000 --size 64 --seed 1
exec ./astrotrain experiment experiments/stargalaxy_finetune/study.ini --force "$@"
