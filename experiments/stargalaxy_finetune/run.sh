#!/usr/bin/env bash
# run.sh - the star/galaxy fine-tuning study, from the repository root:
#   bash experiments/stargalaxy_finetune/run.sh [--threads N]
# 1. 20,000 synthetic Galaxy10 images at 64x64 (once), 2. pretrain.ini on them (10 classes),
# 3. scratch.ini and 4. finetune.ini on the real cutouts (same network, split and epochs; the
# fine-tuned arm starts from step 2's model.h5, re-headed to 2 classes), 5. report.py:
# runs/stargalaxy_finetune/report.md with both arms side by side and plots/class_f1.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=experiments/stargalaxy_finetune
[ -s data/galaxy10_synth_20k.h5 ] ||
    ./astrotrain synth galaxy10 --out data/galaxy10_synth_20k.h5 --n 20000 --size 64 --seed 1
for step in pretrain scratch finetune; do ./astrotrain --config "$D/$step.ini" --force "$@"; done
python3 "$D/report.py" runs/stargalaxy_finetune
