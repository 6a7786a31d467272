#!/usr/bin/env bash
# run.sh - runs each libFuzzer target for FUZZ_SECONDS, seeded from tests/fuzz/corpus/<name>/.
# New interesting inputs go to $FUZZ_BUILD/corpus/<name>/ (not the repository); a crash,
# hang (10 s), leak, over-large allocation or sanitizer report stops that target, leaves
# the input in $FUZZ_BUILD/crashes/ and makes the whole run fail.
set -u
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for bin in "$@"; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    seeds=tests/fuzz/corpus/$name
    work=$FUZZ_BUILD/corpus/$name
    crashes=$FUZZ_BUILD/crashes/$name/
    mkdir -p "$work" "$crashes" "$seeds"
    if [ -n "${FUZZ_RUNS:-}" ]; then what="$FUZZ_RUNS inputs from seed ${FUZZ_SEED:-1}"; else what="${FUZZ_SECONDS}s"; fi
    echo "=== fuzz $name: $what (seeds: $(ls "$seeds" | wc -l))"
    # -rss_limit_mb/-malloc_limit_mb: an input that makes us allocate past 1 GB is a bug.
    # FUZZ_RUNS (with FUZZ_SEED) replaces the time limit by a reproducible number of inputs.
    limit=(-max_total_time="$FUZZ_SECONDS")
    [ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
    if "$bin" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -max_len=65536 -artifact_prefix="$crashes" -print_final_stats=1 "$work" "$seeds" \
        >"$FUZZ_BUILD/$name.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$FUZZ_BUILD/$name.log" | tail -n 2
    else
        tail -n 40 "$FUZZ_BUILD/$name.log"
        echo "FUZZ FAILURE in $name: input kept in $crashes"
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzzing found problems in: ${failed[*]}"; exit 1; fi
echo "fuzzing: no problems found"
