# lib.sh - helpers for end-to-end tests. Source it; call `ok NAME CMD...`, `fails NAME
# CODE TEXT CMD...`, `skip NAME REASON` (a check that cannot run here: counted as skipped, not
# passed); end with `done_tests` ("N passed, N failed, N skipped"). $ASTROTRAIN is the binary
# under test, $TMP a scratch folder removed at exit, $ROOT the repository.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ASTROTRAIN=${ASTROTRAIN:-$ROOT/build/astrotrain}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/astrotrain-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SAMPLE="$ROOT/tests/fixtures/sdss17_sample10k.csv.gz"
# the e2e folder, for Python helpers the scripts import (fits_scale.py)
export AT_E2E_DIR="$ROOT/tests/e2e"
# cnn_ini NAME DATA_PATH [DATA_LINE...] : prints the head the tiny CNN test configs share:
# [run] NAME under $TMP/runs, [data] path (and each DATA_LINE, e.g. "scaling = asinh"), no
# undersampling, a 50/25/25 split, [model] type = cnn; the caller appends [net] and its layers
cnn_ini() {
    local name=$1 path=$2 line
    shift 2
    printf '[run]\nname = %s\noutput_dir = %s\n[data]\npath = %s\n' "$name" "$TMP/runs" "$path"
    for line in "$@"; do printf '%s\n' "$line"; done
    printf '[undersample]\nstrategy = none\n[split]\ntrain = 0.5\nvalidation = 0.25\ntest = 0.25\n[model]\ntype = cnn\n'
}
# astropy_python : prints a python3 that has astropy and numpy ($PEER_PYTHON, else Debian's
# /usr/bin/python3, else the first on PATH), nothing when there is none
astropy_python() {
    local cand
    for cand in ${PEER_PYTHON:-/usr/bin/python3 python3}; do
        "$cand" -c 'import astropy, numpy' 2>/dev/null && { echo "$cand"; return; }
    done
}
# cutouts DIR N : DIR/galaxy and DIR/star get the first N shipped 64x64 star/galaxy cutouts of
# each class (data/star_galaxy_64px), the small image fixture the CNN tests share
cutouts() {
    local c
    for c in galaxy star; do
        mkdir -p "$1/$c"
        ls "$ROOT/data/star_galaxy_64px/$c" | head -n "$2" | while read -r f; do cp "$ROOT/data/star_galaxy_64px/$c/$f" "$1/$c/"; done
    done
}
# Under the sanitizers: HDF5's own leaks on corrupt model files are not ours.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp}
# VALGRIND=1: every astrotrain call runs under memcheck; any error or definite leak makes it
# exit 99, which no test expects. $ASTROTRAIN becomes a wrapper so tests need not change.
if [ "${VALGRIND:-0}" = 1 ]; then
    cat > "$TMP/astrotrain-valgrind" <<VG
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
    --show-leak-kinds=definite --suppressions=$ROOT/tests/valgrind.supp "$ASTROTRAIN" "\$@"
VG
    chmod +x "$TMP/astrotrain-valgrind"
    ASTROTRAIN_BIN=$ASTROTRAIN
    ASTROTRAIN=$TMP/astrotrain-valgrind
fi
E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0
pass() { E2E_PASSED=$((E2E_PASSED + 1)); echo "ok   $1"; }
fail() { E2E_FAILED=$((E2E_FAILED + 1)); echo "FAIL $1${2:+: $2}"; }
# skip NAME REASON : NAME was not checked because REASON (a tool or file missing)
skip() { E2E_SKIPPED=$((E2E_SKIPPED + 1)); echo "SKIP $1: $2"; }
# ok NAME CMD... : CMD must exit 0
ok() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "exit $?: $(echo "$out" | tail -n 5)"; fi
}
# fails NAME CODE TEXT CMD... : CMD must exit with CODE and print TEXT on stderr/stdout
fails() {
    local name=$1 code=$2 text=$3; shift 3
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" -eq "$code" ] && grep -qF -- "$text" <<<"$out"; then pass "$name"
    else fail "$name" "exit $rc (want $code), output: $(echo "$out" | tail -n 3)"; fi
}
# check NAME CONDITION-CMD... : like ok but silent command (test, cmp, ...); on failure the
# last lines of its output (a Python assertion's values) follow the name
check() {
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
}
done_tests() { echo "$E2E_PASSED passed, $E2E_FAILED failed, $E2E_SKIPPED skipped"; [ "$E2E_FAILED" -eq 0 ]; }
# check_run NAME DIR : the run directory DIR agrees with itself. From predictions.csv (the
# test part) alone, recomputes the confusion matrix, accuracy, per-class precision, recall,
# F1 and support, macro-F1 and log-loss, and compares them with metrics.json's "test"; each
# row's probabilities sum to 1 and "predicted" is their argmax; the row count is the test
# size; the data counts add up; plots/confusion.dat (when written) holds the same matrix.
check_run() {
    check "$1" python3 - "$2" <<'PY'
import csv, json, math, os, shlex, sys
d = sys.argv[1]
m = json.load(open(f"{d}/metrics.json")); t = m["test"]; cls = t["classes"]; k = len(cls)
rows = list(csv.DictReader(open(f"{d}/predictions.csv")))
assert len(rows) == t["n"] == m["data"]["test"], (len(rows), t["n"], m["data"]["test"])
conf = [[0] * k for _ in range(k)]; ll = 0.0
for r in rows:
    p = [float(r[f"p_{c}"]) for c in cls]
    assert abs(sum(p) - 1) < 1e-6, r
    assert p[cls.index(r["predicted"])] >= max(p) - 1e-8, r
    ti = cls.index(r["true"]); conf[ti][cls.index(r["predicted"])] += 1
    ll -= math.log(min(1.0, max(p[ti], 1e-15)))
assert conf == t["confusion"], (conf, t["confusion"])
n = len(rows)
assert abs(t["accuracy"] - sum(conf[i][i] for i in range(k)) / n) < 1e-12
assert abs(t["log_loss"] - ll / n) < 1e-6 * max(1.0, ll / n), (t["log_loss"], ll / n)
f1s = []
for i, c in enumerate(cls):
    row = sum(conf[i]); col = sum(conf[j][i] for j in range(k)); tp = conf[i][i]
    pr = tp / col if col else 0.0; rc = tp / row if row else 0.0
    f1 = 2 * pr * rc / (pr + rc) if pr + rc > 0 else 0.0; f1s.append(f1)
    pc = t["per_class"][c]
    assert pc["support"] == row and abs(pc["precision"] - pr) < 1e-12 and abs(pc["recall"] - rc) < 1e-12 \
        and abs(pc["f1"] - f1) < 1e-12, (c, pc)
assert abs(t["macro_f1"] - sum(f1s) / k) < 1e-12
dd = m["data"]
assert dd["train"] + dd["validation"] + dd["test"] == dd["rows_after_undersampling"], dd
if "class_counts_before" in dd:
    assert sum(dd["class_counts_before"].values()) == dd["rows_read"] - dd["rows_dropped"], dd
    assert sum(dd["class_counts_after"].values()) == dd["rows_after_undersampling"], dd
if os.path.exists(f"{d}/plots/confusion.dat"):
    dat = [shlex.split(l) for l in open(f"{d}/plots/confusion.dat") if not l.startswith("#") and l.strip()]
    assert [l[0] for l in dat] == cls and [[int(x) for x in l[1:]] for l in dat] == conf, dat
PY
}

# ---- at_track_pid (issue 12, serve2) ---------------------------------------------------------
# at_track_pid PID : a background process of the test (a server, an mpirun) that the EXIT trap
# stops however the script ends (a failed check, set -e, Ctrl-C): SIGTERM, then SIGKILL after
# 2 s if it is still there. A process the test already stopped and waited for is skipped.
AT_TRACKED_PIDS=""
at_track_pid() { AT_TRACKED_PIDS="$AT_TRACKED_PIDS $1"; }
at_stop_tracked_pids_() {
    local p i
    for p in $AT_TRACKED_PIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $AT_TRACKED_PIDS; do
        for i in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    return 0
}
trap 'at_stop_tracked_pids_; rm -rf "$TMP"' EXIT
