#!/usr/bin/env bash
# gpu.sh - astrotrain's networks on a GPU beside PyTorch, same machine, same run (issue 17):
# training and inference images/s of the reference net of ../shared/benchmarks (64x64,
# batch 32 and 256, fp32; batch 256 bf16) and of ResNet-18 (configs/resnet18.ini) at 128x128
# and 256x256, batch 128, bf16; then the Galaxy10-shaped epoch: 17,736 random 256x256 images
# through ResNet-18 (bf16, batch 128). PyTorch: ../shared/benchmarks/gpu_torch.py (training)
# and bench/gpu_torch_infer.py (inference). Prints every JSON line, then a table of ratios.
# Needs a GPU and a make CUDA=1 build; scripts/device_check.sh runs it on the lent machine.
# Paths can be moved: GPU_BENCH, GPU_TORCH, GPU_TORCH_INFER, RESNET18_INI.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BIN=${GPU_BENCH:-$here/../build/cuda/bench/gpu_bench}
TORCH=${GPU_TORCH:-$here/../../shared/benchmarks/gpu_torch.py}
TORCH_INFER=${GPU_TORCH_INFER:-$here/gpu_torch_infer.py}
RES=${RESNET18_INI:-$here/../configs/resnet18.ini}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== machine: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== astrotrain (gpu_bench)"
# DEVICE and GPU_BENCH_ARGS (appended, so they win) let the script be tried without a GPU:
#   DEVICE=cpu GPU_BENCH_ARGS="--images 4 --warm 0" GPU_BENCH=build/bench/gpu_bench bench/gpu.sh
args=(--device "${DEVICE:-cuda}" --threads "${THREADS:-8}")
run() { "$BIN" "$@" "${args[@]}" ${GPU_BENCH_ARGS:-} | tee -a "$out/at.jsonl"; }
run --net reference --size 64 --batch 32 --precision fp32
run --net reference --size 64 --batch 256 --precision fp32
run --net reference --size 64 --batch 256 --precision bf16
run --net "$RES" --size 128 --batch 128 --precision bf16 --steps 30 --warm 5
run --net "$RES" --size 256 --batch 128 --precision bf16 --steps 30 --warm 5
echo "== Galaxy10-shaped epoch: 17,736 images, 256x256, ResNet-18, bf16, batch 128"
"$BIN" --net "$RES" --size 256 --batch 128 --precision bf16 --images 17736 --warm 3 "${args[@]}" ${GPU_BENCH_ARGS:-} \
    | tee "$out/epoch.jsonl"
echo "== PyTorch (gpu_torch.py: training)"
if python3 -c 'import torch, torchvision; assert torch.cuda.is_available()' 2>/dev/null; then
    python3 "$TORCH" | tee "$out/torch.jsonl"
    echo "== PyTorch (gpu_torch_infer.py: inference)"
    python3 "$TORCH_INFER" | tee "$out/torch_infer.jsonl"
else
    echo "SKIP PyTorch: no torch with CUDA here"
    : >"$out/torch.jsonl"; : >"$out/torch_infer.jsonl"
fi
echo "== ratios (astrotrain / PyTorch, images/s)"
python3 - "$out" <<'PY'
import json, os, sys
d = sys.argv[1]
def load(f):
    p = os.path.join(d, f)
    return [json.loads(l) for l in open(p) if l.startswith("{")] if os.path.exists(p) else []
at, tt, ti = load("at.jsonl"), load("torch.jsonl"), load("torch_infer.jsonl")
def key(r):
    net = "resnet18" if "resnet18" in r["net"] else r["net"]
    amp = r.get("amp_bf16", r.get("precision") == "bf16")
    return (net, r["size"], r["batch"], bool(amp))
tk = {key(r): r for r in tt if "net" in r}
ik = {key(r): r for r in ti if "net" in r}
print("%-10s %5s %6s %5s | %12s %12s %6s | %12s %12s %6s" % ("net", "size", "batch", "bf16", "train at", "torch",
      "ratio", "infer at", "torch", "ratio"))
for r in at:
    k = key(r)
    t, i = tk.get(k, {}).get("train_img_per_s"), ik.get(k, {}).get("infer_img_per_s")
    f = lambda a, b: "%6.2f" % (a / b) if a and b else "   n/a"
    print("%-10s %5d %6d %5s | %12.1f %12s %s | %12.1f %12s %s" % (k[0], k[1], k[2], k[3], r["train_img_per_s"],
          t if t else "n/a", f(r["train_img_per_s"], t), r["infer_img_per_s"], i if i else "n/a",
          f(r["infer_img_per_s"], i)))
for r in load("epoch.jsonl"):
    print("Galaxy10-shaped epoch (17,736 images 256x256, ResNet-18 bf16, compute only): %.1f s, %.0f images/s"
          % (r["train_seconds"], r["train_img_per_s"]))
PY
