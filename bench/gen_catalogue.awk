# gen_catalogue.awk - a catalogue of any size from a real one: reads a CSV (header + rows),
# then writes the header and `rows` rows cycling through the input with every feature column
# jittered by a relative +-jitter (default 0.002), so the rows are new but the classes stay
# separable. Sentinel values (-9999) are kept as they are.
#   zcat data/sdss17/star_classification.csv.gz | awk -v rows=10000000 -f bench/gen_catalogue.awk > big.csv
BEGIN {
    FS = OFS = ","
    if (!rows) rows = 1000000
    if (!jitter) jitter = 0.002
    if (!features) features = "u,g,r,i,z,redshift"
    srand(seed ? seed : 1)
}
NR == 1 {
    nf = split(features, want, ",")
    for (j = 1; j <= NF; j++) for (k = 1; k <= nf; k++) if ($j == want[k]) jit[j] = 1
    print
    next
}
{ line[++n] = $0 }
END {
    for (r = 0; r < rows; r++) {
        $0 = line[r % n + 1]
        for (j in jit) if ($j != -9999) $j = sprintf("%.6g", $j * (1 + jitter * (2 * rand() - 1)))
        print
    }
}
