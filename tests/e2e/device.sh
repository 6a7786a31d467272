#!/usr/bin/env bash
# End to end (issue 17): [run] device / --device on the binary under test. On a build
# without CUDA: a GPU request is one line naming the rebuild (exit 3) before any data are
# read; a bad name lists the allowed ones; auto trains on the CPU and gives predictions
# bit-identical to cpu. The keys are documented (config --doc, docs/config.md). The GPU side
# itself is checked by tests/gpu/test_nn_cuda (make CUDA=1) on a GPU machine.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
cutouts imgs 12
{ cnn_ini cnn "$TMP/imgs"; cat <<INI
[net]
width = 12
height = 12
batch = 4
epochs = 1
[conv]
filters = 4
batch_normalize = true
[maxpool]
[conv]
filters = 4
[avgpool]
[dropout]
rate = 0.2
[dense]
units = 2
[softmax]
INI
} > cnn.ini

if "$ASTROTRAIN" --config cnn.ini --device cuda --set run.output_dir=$TMP/probe --quiet >probe.out 2>&1 ||
    ! grep -q "built without CUDA" probe.out; then
    skip "a GPU request on a CPU-only build" "this astrotrain was built with CUDA=1"
else
    fails "--device cuda on a CPU-only build names the rebuild" 3 \
        "[run] device = cuda: this astrotrain was built without CUDA: rebuild with make CUDA=1" \
        "$ASTROTRAIN" --config cnn.ini --device cuda --quiet
    check "... in one line" test "$(grep -c . probe.out)" -eq 1
    check "... before any run directory is made" test ! -e "$TMP/probe"
    fails "[run] device = cuda:2 likewise" 3 "[run] device = cuda:2: this astrotrain was built without CUDA" \
        "$ASTROTRAIN" --config cnn.ini --set run.device=cuda:2 --quiet
fi
if ! grep -q "built without CUDA" probe.out; then
    skip "serve --device cuda on a CPU-only build" "this astrotrain was built with CUDA=1"
else
    fails "serve --device cuda on a CPU-only build names the rebuild" 2 \
        "--device cuda: this astrotrain was built without CUDA: rebuild with make CUDA=1" \
        "$ASTROTRAIN" serve --model none.h5 --device cuda
fi
fails "serve --device with a bad name" 2 "device 'gpu' is not one of" "$ASTROTRAIN" serve --model none.h5 --device gpu
fails "a bad device name lists the allowed ones" 3 "device 'gpu' is not one of cpu, cuda, cuda:N (N from 0 to 63) or auto" \
    "$ASTROTRAIN" --config cnn.ini --device gpu --quiet
fails "cuda:64 is out of range" 3 "device 'cuda:64' is not one of" "$ASTROTRAIN" --config cnn.ini --device cuda:64 --quiet
fails "[net] precision takes fp32 or bf16 only" 3 "precision" \
    "$ASTROTRAIN" --config cnn.ini --set net.precision=fp16 --quiet
ok "train on the cpu" "$ASTROTRAIN" --config cnn.ini --device cpu --quiet --threads 2
mv runs/cnn runs/cpu
if "$ASTROTRAIN" --config cnn.ini --device auto --quiet --threads 2 >auto.out 2>&1; then
    pass "train with device = auto"
    if grep -q "training on cuda" runs/cnn/log.txt 2>/dev/null; then
        skip "auto on the CPU is bit-identical to cpu" "auto found a GPU"
    else
        check "auto without a GPU: predictions bit-identical to cpu" cmp runs/cpu/predictions.csv runs/cnn/predictions.csv
    fi
else
    fail "train with device = auto" "$(tail -n 3 auto.out)"
fi
check "train --help lists --device" bash -c "'$ASTROTRAIN' train --help 2>&1 | grep -q -- '--device D'"
check "config --doc documents run.device and net.precision" bash -c \
    "'$ASTROTRAIN' config --doc | grep -q 'device' && '$ASTROTRAIN' config --doc | grep -q 'precision'"
check "docs/config.md is current for the new keys" bash -c \
    "grep -q 'Where the networks (cnn) train' '$ROOT/docs/config.md' && grep -q 'bf16 tensor cores' '$ROOT/docs/config.md'"
done_tests
