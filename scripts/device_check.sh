#!/usr/bin/env bash
# device_check.sh - the ONE script for checking the GPU backend (issue 17) on a lent GPU machine.
#
# The GPU machine has the NVIDIA driver, the CUDA toolkit and PyTorch (with cuDNN and cuBLAS
# in its Python packages) but none of astrotrain's other libraries (HDF5, OpenBLAS, libinih,
# ...), so the work is split in two:
#
#   1. here, on the build machine:   scripts/device_check.sh
#      builds make CUDA=1, gathers the binary, the GPU test program, the GPU benchmark, the
#      shared libraries ldd names (all but the C library, the CUDA driver and the CUDA/cuBLAS/
#      cuDNN libraries, which are taken from the GPU machine), bench/gpu.sh, the PyTorch peers
#      and the configs into .device/bundle.tar.xz (.device/ is listed in .git/info/exclude),
#      and prints the command for the second half;
#   2. on the GPU machine: the device tool's run, with carry [".device"] and the command this
#      script prints (it is also in .device/command.txt):
#        bash .device/bundle/run_device.sh   (after unpacking)
#      which unpacks, points LD_LIBRARY_PATH at the bundle and the machine's CUDA libraries,
#      unsets OPENBLAS_CORETYPE, and runs: nvidia-smi; the GPU test program (GPU vs CPU, layer
#      by layer, and a short training run); bench/gpu.sh (astrotrain beside PyTorch, and the
#      Galaxy10-shaped epoch); an end-to-end run (synthetic Galaxy10 images, train with
#      --device cuda, predict the saved model on the CPU). Every figure is printed and saved under
#      $OUT (gpu_test.txt, gpu_bench.txt, e2e.txt). Each part has its own timeout (150 + 225 +
#      195 s at most, under the tool's 600 s); expect 3 to 5 minutes plus the machine's start.
#
# Options: CUDA_ARCH (default 90: H100/H200), JOBS (default 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dev=.device
exclude="$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")"
grep -qx '/.device/' "$exclude" 2>/dev/null || echo '/.device/' >>"$exclude"

echo "== building make CUDA=1 (CUDA_ARCH=${CUDA_ARCH:-90})"
make -j"${JOBS:-2}" CUDA=1 CUDA_ARCH="${CUDA_ARCH:-90}" >/dev/null
B=build/cuda
for f in $B/astrotrain $B/tests/gpu/test_nn_cuda $B/bench/gpu_bench; do
    test -x "$f" || { echo "device_check: $f was not built" >&2; exit 1; }
done

rm -rf "$dev"
mkdir -p "$dev/bundle/lib" "$dev/bundle/configs"
cp $B/astrotrain $B/tests/gpu/test_nn_cuda $B/bench/gpu_bench "$dev/bundle/"
cp bench/gpu.sh bench/gpu_torch_infer.py configs/resnet18.ini configs/cnn_galaxy10_resnet18.ini "$dev/bundle/"
cp configs/resnet18.ini "$dev/bundle/configs/"
torch_peer="$root/../shared/benchmarks/gpu_torch.py"
[ -f "$torch_peer" ] || torch_peer=/work/wt/shared/benchmarks/gpu_torch.py
if [ -f "$torch_peer" ]; then cp "$torch_peer" "$dev/bundle/gpu_torch.py"; else echo "note: gpu_torch.py not found: no PyTorch training figures"; fi
# every shared library but the C library's own, the driver and the CUDA libraries
for bin in $B/astrotrain $B/tests/gpu/test_nn_cuda $B/bench/gpu_bench; do
    ldd "$bin" | awk '/=>/ {print $3}'
done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux* | libcuda.so* | libcudart.so* | \
        libcublas*.so* | libcudnn*.so* | libnvidia*) ;;
    *) cp -L "$lib" "$dev/bundle/lib/" ;;
    esac
done

cat >"$dev/bundle/run_device.sh" <<'RUN'
#!/usr/bin/env bash
# run_device.sh - the GPU machine's half of scripts/device_check.sh (see there).
set -u
B=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/at_out}
mkdir -p "$OUT"
# the CUDA, cuBLAS and cuDNN libraries of this machine: PyTorch's packages, then the toolkit
libs=$(python3 - <<'PY' 2>/dev/null
import importlib, os
dirs = []
for m in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cuda_runtime"):
    try:
        mod = importlib.import_module(m)
        for p in mod.__path__:
            if os.path.isdir(os.path.join(p, "lib")): dirs.append(os.path.join(p, "lib"))
    except Exception:
        pass
print(":".join(dirs))
PY
)
if [ -z "$libs" ] || ! ls ${libs//:/ } 2>/dev/null | grep -q libcudnn; then
    c=$(find /usr /opt -name 'libcudnn.so.9*' 2>/dev/null | head -1)
    [ -n "$c" ] && libs="$libs:$(dirname "$c")"
fi
export LD_LIBRARY_PATH="$B/lib:$libs:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
# any library still missing (another wheel layout, such as nvidia/cu13/lib): look for it
for miss in $(ldd "$B/astrotrain" | awk '/not found/ {print $1}'); do
    f=$(find /opt /usr/local /usr/lib -name "$miss" 2>/dev/null | head -1)
    [ -n "$f" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$f")"
done
unset OPENBLAS_CORETYPE
export OMP_NUM_THREADS=8
echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$B/astrotrain" | grep -E "not found|cudnn|cublas|cudart" || true
echo "== GPU test program (GPU against CPU)"
timeout 150 "$B/test_nn_cuda" 2>&1 | tee "$OUT/gpu_test.txt"
echo "== benchmark: astrotrain beside PyTorch"
GPU_BENCH="$B/gpu_bench" GPU_TORCH="$B/gpu_torch.py" GPU_TORCH_INFER="$B/gpu_torch_infer.py" \
    RESNET18_INI="$B/configs/resnet18.ini" timeout 225 bash "$B/gpu.sh" 2>&1 | tee "$OUT/gpu_bench.txt"
echo "== end to end: synthetic Galaxy10 64x64, train on the GPU, predict on the CPU"
(
    set -x
    w=$(mktemp -d)
    cd "$w"
    timeout 30 "$B/astrotrain" synth galaxy10 --out g10.h5 --n 1200 --size 64 &&
        timeout 120 "$B/astrotrain" --config "$B/cnn_galaxy10_resnet18.ini" --set data.path=g10.h5 --set net.width=64 \
            --set net.height=64 --set net.epochs=2 --set net.batch=64 --set net.learning_rate=0.01 \
            --set run.output_dir=runs --set run.name=gpu \
            --device cuda --threads 8 &&
        timeout 45 "$B/astrotrain" predict --model runs/gpu/model.h5 --input g10.h5 --output cpu_pred.csv --threads 8 &&
        grep -m1 "training on" runs/gpu/log.txt && head -3 cpu_pred.csv && grep -c . cpu_pred.csv &&
        grep -o '"accuracy": [0-9.]*' runs/gpu/metrics.json | head -2
) 2>&1 | tee "$OUT/e2e.txt"
echo "== done"
RUN
chmod +x "$dev/bundle/run_device.sh"
tar -C "$dev" -cJf "$dev/bundle.tar.xz" bundle
rm -rf "$dev/bundle"
size=$(du -m "$dev/bundle.tar.xz" | cut -f1)
cmd='tar -C .device -xJf .device/bundle.tar.xz && bash .device/bundle/run_device.sh'
echo "$cmd" >"$dev/command.txt"
echo "== bundle: $dev/bundle.tar.xz (${size} MiB; the device tool carries at most 64 MiB)"
echo "== second half: call the device tool's run with"
echo "   carry: [\".device\"]   timeout_s: 600"
echo "   command: $cmd"
