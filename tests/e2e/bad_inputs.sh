#!/usr/bin/env bash
# End to end: hostile and broken input, one case per line of the table below. Each case must
# exit with its code (2 usage, 3 config, 4 data, 5 i/o, 6 model file, 7 memory) and print
# exactly one line on stderr, "astrotrain: ..." containing the fragment; it must not crash
# (exit >= 128, a sanitizer report), hang (timeout 60), or use unbounded memory (ulimit -v
# 2 GB, except under the sanitizers or valgrind, which need more address space), and it
# must leave no output file and no *.tmp.* file behind.
source "$(dirname "$0")/lib.sh"
cd "$TMP"
W=$TMP/w          # every case writes below here; checked for leftovers after each
mkdir -p "$W"

# ---- fixtures ----------------------------------------------------------------------------
zcat "$SAMPLE" | head -n 301 > good.csv                     # header + 300 rows
HEADER=$(head -n 1 good.csv)
cat > base.ini <<INI
[run]
output_dir = $W/runs
[data]
path = $TMP/good.csv
[model]
n_trees = 5
[plots]
enabled = false
INI
grep -v '^n_trees' base.ini > family.ini                      # for other model families
ok "fixture: train the model the predict cases use" "$ASTROTRAIN" --config base.ini --quiet --set run.name=model
MODEL=$TMP/model.h5
mv "$W/runs/model/model.h5" "$MODEL"
rm -rf "$W/runs"

# Data files (training).
: > empty.csv
head -n 1 good.csv > header_only.csv
sed '1s/,class,/,kind,/' good.csv > no_label.csv
sed '1s/^obj_ID,alpha,delta,u,/obj_ID,alpha,delta,uu,/' good.csv > no_feature.csv
sed '5s/,GALAXY,/,GALAXY,/; 5s/^\([^,]*,[^,]*,[^,]*,\)[^,]*/\1eighteen/' good.csv > not_number.csv
sed '5s/^\([^,]*,[^,]*,[^,]*,\)[^,]*/\1NaN/' good.csv > one_nan.csv
sed '5s/^\([^,]*,[^,]*,[^,]*,\)[^,]*/\1-Infinity/' good.csv > one_inf.csv
sed '2,$s/^\([^,]*,[^,]*,[^,]*,\)[^,]*/\1nan/' good.csv > all_nan.csv
sed '2,$s/^\([^,]*,[^,]*,[^,]*,\)[^,]*/\1inf/' good.csv > all_inf.csv
{ cat good.csv; head -c 10485760 /dev/zero | tr '\0' '7'; echo; } > long_line.csv
{ printf 'obj_ID,u\xff\xfeg,class\n'; tail -n +2 good.csv; } > bad_utf8_header.csv
sed '5s/,GALAXY,/,GAL\xc3\x28XY,/; 5s/,STAR,/,ST\xc3\x28R,/; 5s/,QSO,/,Q\xc3\x28O,/' good.csv > bad_utf8_label.csv
gzip -c good.csv > good.csv.gz
head -c $(( $(stat -c %s good.csv.gz) / 2 )) good.csv.gz > truncated.csv.gz
python3 - good.csv.gz flipped.csv.gz <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0x10
open(sys.argv[2], "wb").write(b)
PY
{ head -n 10 good.csv; printf 'a\0b\n'; } > nul.csv
{ head -n 10 good.csv; echo '1,2,3,"open quote'; } > open_quote.csv
{ head -n 10 good.csv; echo '1,2,3'; } > ragged.csv
awk -F, 'NR == 1 || $14 == "GALAXY"' good.csv > one_class.csv
head -n 3 good.csv > three_rows.csv
sed '1s/,redshift,/,u,/' good.csv > dup_column.csv
# gzip whose trailer understates the size (a tiny last member): only the loader's bound sees it.
{ zcat "$SAMPLE" | gzip -c; zcat "$SAMPLE" | tail -n 1 | gzip -c; } > two_members.csv.gz
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDR' > image.png

# Configuration files.
ini() { { cat base.ini; printf '%b' "$2"; } > "$1"; }
ini dup_key.ini '[split]\ntrain = 0.7\ntrain = 0.8\n'
ini dup_section.ini '[split]\ntrain = 0.7\n[split]\ntest = 0.15\n'
ini fractions.ini '[split]\ntrain = 0.5\nvalidation = 0.3\ntest = 0.3\n'
ini unknown_section.ini '[modle]\nn_trees = 5\n'
ini not_integer.ini '[split]\ntrain = seventy\n'
ini other_family.ini '[undersample]\nstrategy = none\n' && sed -i 's/^n_trees = 5/components = 3/' other_family.ini
printf 'seed = 1\n[run]\n' > key_before_section.ini
printf '[run]\nname = caf\xe9\n' > latin1.ini
printf '[run]\nname = a\0b\n' > nul.ini
{ printf '[run]\nname = '; head -c 100000 /dev/zero | tr '\0' x; echo; } > long_line.ini
mkdir -p a_folder.ini

# Model files.
head -c 4000 "$MODEL" > truncated.h5
: > empty.h5
python3 - "$MODEL" flipped.h5 <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for off in range(40, len(b), 997): b[off] ^= 0x5A  # metadata and data alike
open(sys.argv[2], "wb").write(b)
PY
H5PY=/usr/bin/python3
if "$H5PY" -c 'import h5py' 2>/dev/null; then
    "$H5PY" - "$MODEL" newer.h5 foreign.h5 <<'PY'
import shutil, sys, h5py, numpy
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f: f.attrs.modify("format_version", numpy.int32(99))
with h5py.File(sys.argv[3], "w") as f: f["data"] = numpy.arange(10.0)
PY
fi

# Predict inputs.
sed '5s/,GALAXY,/,MOON,/; 5s/,STAR,/,MOON,/; 5s/,QSO,/,MOON,/' good.csv > unknown_class.csv
cut -d, -f1-3,5- good.csv > predict_no_u.csv

# ---- the runner --------------------------------------------------------------------------
UNDER_TOOL=0
if [ "${SANITIZE:-0}" = 1 ] || [ "${VALGRIND:-0}" = 1 ] || ldd "${ASTROTRAIN%% *}" 2>/dev/null | grep -q libasan; then
    UNDER_TOOL=1
fi
# bad NAME CODE FRAGMENT OUTPUT ARGS... : astrotrain ARGS must fail as described; OUTPUT
# ("-" for none) must not exist afterwards.
bad() {
    local name=$1 code=$2 text=$3 output=$4; shift 4
    local err rc problems=""
    err=$(
        [ "$UNDER_TOOL" = 1 ] || ulimit -v 2000000
        # shellcheck disable=SC2086
        timeout 60 "$ASTROTRAIN" "$@" 2>&1 >/dev/null
    )
    rc=$?
    [ "$rc" -eq 124 ] && problems+=" hung (timeout);"
    [ "$rc" -ge 128 ] && problems+=" crashed (exit $rc);"
    [ "$rc" -ne "$code" ] && problems+=" exit $rc, want $code;"
    grep -qE 'Sanitizer|runtime error:|valgrind|==[0-9]+==' <<<"$err" && problems+=" sanitizer/valgrind report;"
    [ "$(grep -c . <<<"$err")" -ne 1 ] && problems+=" $(grep -c . <<<"$err") lines on stderr, want 1;"
    grep -q '^astrotrain: ' <<<"$err" || problems+=" no 'astrotrain: ' line;"
    grep -qF -- "$text" <<<"$err" || problems+=" no '$text' in the message;"
    [ "$output" != - ] && [ -e "$output" ] && problems+=" left $output;"
    local tmps
    tmps=$(find "$W" -name '*.tmp.*' 2>/dev/null)
    [ -n "$tmps" ] && problems+=" left temporary files: $tmps;"
    if [ -z "$problems" ]; then pass "$name"; else fail "$name" "${problems% ;}: $(head -c 300 <<<"$err")"; fi
    rm -rf "$W"/*
}
# fine NAME ARGS... : hostile but acceptable input: exit 0, within the same limits.
fine() {
    local name=$1; shift
    local err rc
    err=$(
        [ "$UNDER_TOOL" = 1 ] || ulimit -v 2000000
        timeout 60 "$ASTROTRAIN" "$@" 2>&1 >/dev/null
    )
    rc=$?
    if [ "$rc" -eq 0 ] && ! grep -qE 'Sanitizer|runtime error:|==[0-9]+==' <<<"$err"; then pass "$name"
    else fail "$name" "exit $rc: $(head -c 300 <<<"$err")"; fi
    rm -rf "$W"/*
}
train() { echo --config "$TMP/base.ini" --quiet --set "run.name=$1"; }   # word-split on purpose
T() { local name=$1 code=$2 text=$3 data=$4; shift 4; bad "$name" "$code" "$text" "$W/runs/x/model.h5" \
        $(train x) --set "data.path=$TMP/$data" "$@"; }
P() { local name=$1 code=$2 text=$3; shift 3; bad "$name" "$code" "$text" "$W/out.csv" predict --quiet "$@"; }
C() { local name=$1 code=$2 text=$3 ini=$4; bad "$name" "$code" "$text" "$W/runs/$(basename "$ini" .ini)/model.h5" \
        --config "$TMP/$ini" --quiet; }

# ---- the table: data (training) ------------------------------------------------------------
T "empty file"                      4 "empty file, expected a header row"     empty.csv
T "header only"                     4 "no data rows"                          header_only.csv
T "missing label column"            4 "no column 'class'"                     no_label.csv
T "missing feature column"          4 "no column 'u'"                         no_feature.csv
T "non-numeric cell"                4 "'eighteen' is not a number"            not_number.csv
T "NaN, missing = error"            4 "empty/NaN/infinite: 'NaN'"             one_nan.csv --set data.missing=error
T "Inf, missing = error"            4 "empty/NaN/infinite: '-Infinity'"       one_inf.csv --set data.missing=error
T "NaN in every row, missing = drop" 4 "no usable rows"                       all_nan.csv --set data.missing=drop
T "Inf in every row, missing = drop" 4 "no usable rows"                       all_inf.csv --set data.missing=drop
fine "one NaN row, missing = drop (row dropped)" $(train x) --set data.path=$TMP/one_nan.csv --set data.missing=drop
fine "one Inf row, missing = drop (row dropped)" $(train x) --set data.path=$TMP/one_inf.csv --set data.missing=drop
fine "one NaN row, missing = keep"  $(train x) --set data.path=$TMP/one_nan.csv --set data.missing=keep
fine "one Inf row, missing = keep"  $(train x) --set data.path=$TMP/one_inf.csv --set data.missing=keep
T "10 MB line"                      4 "longer than 1048576 bytes"             long_line.csv
T "non-UTF-8 header"                4 "is not valid UTF-8"                    bad_utf8_header.csv
T "non-UTF-8 label"                 4 "is not valid UTF-8"                    bad_utf8_label.csv
T "truncated gzip"                  4 "truncated or corrupt gzip"             truncated.csv.gz
T "bit-flipped gzip"                4 "corrupt gzip"                          flipped.csv.gz
T "NUL byte"                        4 "NUL byte"                              nul.csv
T "quote left open"                 4 "quoted field not closed"               open_quote.csv
T "row with too few fields"         4 "expected 18 fields, found 3"           ragged.csv
T "one class only"                  4 "need at least 2"                       one_class.csv
T "too few rows to split"           4 "too few rows"                          three_rows.csv
T "column named twice"              4 "appears more than once"                dup_column.csv
T "an image, not a CSV"             4 "image.png"                             image.png
T "missing data file"               5 "cannot open"                           nowhere.csv
T "data path is a folder"           5 "a_folder.ini"                          a_folder.ini

# ---- configuration ------------------------------------------------------------------------
C "duplicate key"                   3 "dup_key.ini:11: key 'train' in [split] is set twice" dup_key.ini
C "duplicate section"               3 "dup_section.ini:11: section [split] appears twice (first at line 9)" dup_section.ini
C "fractions do not sum to 1"       3 "train + validation + test = 1.1, must be 1" fractions.ini
C "unknown section"                 3 "unknown section [modle] (did you mean [model]?)" unknown_section.ini
C "not an integer"                  3 "'seventy' is not a finite number"      not_integer.ini
C "key of another model family"     3 "does not apply to model type 'random_forest'" other_family.ini
C "key before any section"          3 "before any [section]"                  key_before_section.ini
C "Latin-1 bytes in the INI"        3 "latin1.ini:2: the line is not valid UTF-8" latin1.ini
C "NUL byte in the INI"             3 "NUL byte"                              nul.ini
C "100 kB INI line"                 3 "line too long"                         long_line.ini
C "config is a folder"              5 "a_folder.ini"                          a_folder.ini
C "missing config"                  5 "nowhere.ini"                           nowhere.ini
bad "n_trees = 0"                   3 "n_trees = 0 is out of range" "$W/runs/x/model.h5" $(train x) --set model.n_trees=0
bad "n_trees = 1000000000000"       3 "n_trees = 1000000000000 is out of range" "$W/runs/x/model.h5" $(train x) --set model.n_trees=1000000000000
bad "n_trees past int64"            3 "is not an integer" "$W/runs/x/model.h5" $(train x) --set model.n_trees=99999999999999999999
bad "threads = -1"                  3 "out of range" "$W/runs/x/model.h5" $(train x) --set run.threads=-1
bad "--set without a dot"           2 "expected section.key=value" "$W/runs/x/model.h5" $(train x) --set n_trees=5
bad "batch_size = 0 (mlp)"          3 "batch_size = 0 is out of range" "$W/runs/x/model.h5" --config family.ini \
    --set run.name=x --set model.type=mlp --set model.batch_size=0
bad "n_rounds = 0 (gradient boosting)" 3 "n_rounds = 0 is out of range" "$W/runs/x/model.h5" --config family.ini \
    --set run.name=x --set model.type=gradient_boosting --set model.n_rounds=0
bad "epochs = 10^12 (mlp)"          3 "out of range" "$W/runs/x/model.h5" --config family.ini \
    --set run.name=x --set model.type=mlp --set model.epochs=1000000000000

# ---- memory ([run] memory_limit_mb) -------------------------------------------------------
bad "table larger than the limit"   7 "needs about 2 MB, the limit is 1 MB" "$W/runs/x/model.h5" $(train x) \
    --set "data.path=$SAMPLE" --set run.memory_limit_mb=1
bad "model larger than the limit"   7 "(model about" "$W/runs/x/model.h5" $(train x) --set "data.path=$SAMPLE" \
    --set run.memory_limit_mb=100 --set model.n_trees=100000
bad "gzip trailer understates, load stopped" 7 "the table outgrows 0.5 MB after" "$W/runs/x/model.h5" $(train x) \
    --set "data.path=$TMP/two_members.csv.gz" --set run.memory_limit_mb=1
fine "the same files within the limit" $(train x) --set "data.path=$TMP/two_members.csv.gz" --set run.memory_limit_mb=64

# ---- output folders ------------------------------------------------------------------------
bad "run folder under a regular file" 5 "/dev/null: exists and is not a folder" - $(train x) --set run.output_dir=/dev/null/runs
bad "run name with a slash"         3 "must be a plain folder name" - $(train x) --set run.name=a/b

# ---- predict and model files ----------------------------------------------------------------
P "class unknown to the model"      4 "class 'MOON' is not known to the model" --model "$MODEL" --input unknown_class.csv --output "$W/out.csv"
P "predict input lacks a feature"   4 "no column 'u'"                        --model "$MODEL" --input predict_no_u.csv --output "$W/out.csv"
P "predict on an empty file"        4 "empty file"                           --model "$MODEL" --input empty.csv --output "$W/out.csv"
P "predict on truncated gzip"       4 "truncated or corrupt gzip"            --model "$MODEL" --input truncated.csv.gz --output "$W/out.csv"
P "truncated model file"            6 "truncated.h5"                         --model truncated.h5 --input good.csv --output "$W/out.csv"
P "empty model file"                6 "not an HDF5 file"                     --model empty.h5 --input good.csv --output "$W/out.csv"
P "bit-flipped model file"          6 "flipped.h5"                           --model flipped.h5 --input good.csv --output "$W/out.csv"
P "foreign file as model"           6 "not an HDF5 file"                     --model image.png --input good.csv --output "$W/out.csv"
if [ -f newer.h5 ]; then
    P "newer-version model file"    6 "model format version 99 is newer"     --model newer.h5 --input good.csv --output "$W/out.csv"
    P "foreign HDF5 file"           6 "not an astrotrain model"              --model foreign.h5 --input good.csv --output "$W/out.csv"
else
    skip "newer-version model file" "h5py missing (apt-get install python3-h5py)"
    skip "foreign HDF5 file" "h5py missing (apt-get install python3-h5py)"
fi
P "model file is a folder"          5 "a_folder.ini: Is a directory"                         --model a_folder.ini --input good.csv --output "$W/out.csv"
P "missing model file"              5 "nowhere.h5"                           --model nowhere.h5 --input good.csv --output "$W/out.csv"
P "missing input"                   5 "cannot open"                          --model "$MODEL" --input nowhere.csv --output "$W/out.csv"
P "output folder under a file"      5 "/dev/null/x/out.csv"                  --model "$MODEL" --input good.csv --output /dev/null/x/out.csv
P "full disk (/dev/full)"           5 "No space left on device"              --model "$MODEL" --input good.csv --output /dev/full
P "--chunk-rows 0"                  2 "--chunk-rows"                         --model "$MODEL" --input good.csv --output "$W/out.csv" --chunk-rows 0
bad "info on a truncated model"     6 "truncated.h5" - info --model truncated.h5
bad "unknown command"               2 "unknown command 'trian'" - trian --config base.ini
check "/dev/full is still a device" test -c /dev/full
done_tests
