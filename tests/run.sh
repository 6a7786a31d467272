#!/usr/bin/env bash
# Runs every unit-test program (build/tests/test_*) and every end-to-end script
# (tests/e2e/*.sh), adds up their "N passed, N failed[, N skipped]" lines and ends with the
# total "N passed, N failed, N skipped".
# ONLY=unit or ONLY=e2e runs one kind; E2E_FILTER="name..." runs the e2e scripts matching a name.
set -u
BUILD=${BUILD:-build}
export ASTROTRAIN="$PWD/$BUILD/astrotrain"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
passed=0; failed=0; skipped=0; broken=()
run_one() {
    local name=$1; shift
    local out
    out=$("$@" 2>&1); local rc=$?
    local line
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -n 30
        echo "BROKEN $name (exit $rc, no summary line)"
        failed=$((failed + 1)); broken+=("$name"); return
    fi
    local p f s=0
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    if [[ "$line" =~ ^[0-9]+\ passed,\ [0-9]+\ failed,\ ([0-9]+)\ skipped ]]; then s=${BASH_REMATCH[1]}; fi
    if [ "$f" -ne 0 ] || [ $rc -ne 0 ]; then
        printf '%s\n' "$out" | grep -vE '^ok ' | tail -n 40
        [ "$f" -eq 0 ] && f=1
        broken+=("$name")
    else
        printf '%s\n' "$out" | grep -E '^SKIP '   # say what was not checked, and why
    fi
    echo "$name: $line"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}
if [ "${ONLY:-unit}" = unit ] || [ -z "${ONLY:-}" ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        case "$t" in *.d) continue ;; esac
        run_one "unit/$(basename "$t")" "$t"
    done
fi
if [ "${ONLY:-e2e}" = e2e ] || [ -z "${ONLY:-}" ]; then
    for t in tests/e2e/*.sh; do
        [ -f "$t" ] || continue
        [ "$(basename "$t")" = lib.sh ] && continue
        if [ -n "${E2E_FILTER:-}" ]; then   # words: run the scripts matching any of them
            keep=0
            for f in $E2E_FILTER; do [[ "$t" == *"$f"* ]] && keep=1; done
            [ $keep = 1 ] || continue
        fi
        run_one "e2e/$(basename "$t" .sh)" bash "$t"
    done
fi
[ ${#broken[@]} -gt 0 ] && echo "failing: ${broken[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
