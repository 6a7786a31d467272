# lib.sh - helpers for end-to-end tests. Source it; call `ok NAME CMD...`, `fails NAME
# CODE TEXT CMD...`; end with `done_tests`. $ASTROTRAIN is the binary under test,
# $TMP a scratch folder removed at exit, $ROOT the repository.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ASTROTRAIN=${ASTROTRAIN:-$ROOT/build/astrotrain}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/astrotrain-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SAMPLE="$ROOT/tests/fixtures/sdss17_sample10k.csv.gz"
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
pass() { E2E_PASSED=$((E2E_PASSED + 1)); echo "ok   $1"; }
fail() { E2E_FAILED=$((E2E_FAILED + 1)); echo "FAIL $1${2:+: $2}"; }
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
# check NAME CONDITION-CMD... : like ok but silent command (test, cmp, ...)
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name"; fi; }
done_tests() { echo "$E2E_PASSED passed, $E2E_FAILED failed"; [ "$E2E_FAILED" -eq 0 ]; }
