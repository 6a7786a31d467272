#!/usr/bin/env python3
"""report.py - the star/galaxy fine-tuning study's report: from-scratch and fine-tuned runs
side by side (test accuracy, macro-F1, log-loss, per-class precision/recall/F1, best epoch,
fit time) in OUT/report.md, and OUT/plots/class_f1.{dat,gp,png}: each class's F1 for both arms
as grouped bars (gnuplot renders the PNG when it is installed).

    python3 experiments/stargalaxy_finetune/report.py runs/stargalaxy_finetune
"""
import json
import os
import shutil
import subprocess
import sys


def main():
    out = sys.argv[1]
    arms = [("from scratch", "scratch"), ("fine-tuned", "finetune")]
    m = {k: json.load(open(os.path.join(out, k, "metrics.json"))) for _, k in arms}
    pre = json.load(open(os.path.join(out, "pretrain", "metrics.json")))
    classes = m["scratch"]["test"]["classes"]
    lines = ["# Star/galaxy: fine-tuned from synthetic Galaxy10 against from scratch", "",
             f"Pretraining (synthetic Galaxy10, 10 classes): test accuracy {pre['test']['accuracy']:.4f}, "
             f"{len(pre['history']['epoch'])} epochs, fit {pre['timing']['fit_seconds']:.0f} s.", "",
             "| arm | accuracy | macro-F1 | log-loss | best epoch | fit s | "
             + " | ".join(f"{c} P / R / F1" for c in classes) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(classes)]
    for name, k in arms:
        t = m[k]["test"]
        pcs = " | ".join("%.3f / %.3f / %.3f" % (t["per_class"][c]["precision"], t["per_class"][c]["recall"],
                                                 t["per_class"][c]["f1"]) for c in classes)
        lines.append(f"| {name} | {t['accuracy']:.4f} | {t['macro_f1']:.4f} | {t['log_loss']:.4f} | "
                     f"{m[k]['model_info']['best_epoch']} | {m[k]['timing']['fit_seconds']:.0f} | {pcs} |")
    lines += ["", "![Per-class F1, both arms](plots/class_f1.png)", ""]
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines))
    rows = [f'"{c}" ' + " ".join("%.6f" % m[k]["test"]["per_class"][c]["f1"] for _, k in arms) for c in classes]
    with open(os.path.join(out, "plots", "class_f1.dat"), "w") as f:
        f.write("# class " + " ".join(k for _, k in arms) + "\n" + "\n".join(rows) + "\n")
    gp = ["set terminal pngcairo size 800,500", "set output 'class_f1.png'",
          "set title 'Per-class F1, test part: from scratch and fine-tuned'", "set style data histograms",
          "set style histogram clustered gap 1", "set style fill solid 0.8 border -1", "set yrange [0:1]",
          "set ylabel 'F1'", "set key top left", "$d << EOD", *rows, "EOD",
          "plot $d using 2:xtic(1) title 'from scratch', '' using 3 title 'fine-tuned'"]
    with open(os.path.join(out, "plots", "class_f1.gp"), "w") as f:
        f.write("\n".join(gp) + "\n")
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot", "class_f1.gp"], cwd=os.path.join(out, "plots"), check=False)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
