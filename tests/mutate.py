#!/usr/bin/env python3
"""mutate.py - mutation testing: plants each bug of tests/mutants.ini, one at a time, in a copy
of the tree, rebuilds only what the bug's tests need, runs those tests, and counts the bug as
killed when one of them fails (or hangs past the time limit). A bug that every test survives is
a hole in the suite. Ends with "mutation score: K/N killed" and "N passed, N failed" (a killed
mutant passes); exit status 1 when any mutant survives or cannot be applied.

  python3 tests/mutate.py [--list tests/mutants.ini] [--only ID,ID] [--build build/mutate]

The working tree is never modified: the tree (tracked and untracked, non-ignored files) is copied
to BUILD/tree, built once there, and each mutant is applied to and reverted from that copy.

tests/mutants.ini holds one section a mutant:

  [metrics-macro-is-micro]
  file  = src/eval/metrics.c
  from  = m->macro_f1 = k ? f1sum / (double)k : NAN;    (exact text, occurring once in the file)
  to    = m->macro_f1 = m->accuracy;
  tests = test_metrics e2e/peer_check                   (unit programs and/or e2e scripts)
  why   = macro-F1 reported as micro-F1
  equivalent = REASON   (optional: a documented equivalent mutant, applied but not required to die)
"""
import argparse
import configparser
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(path):
    cp = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",),
                                   comment_prefixes=("#",), inline_comment_prefixes=None)
    cp.optionxform = str
    with open(path, encoding="utf-8") as f:
        cp.read_file(f)
    mutants = []
    for name in cp.sections():
        s = cp[name]
        for key in ("file", "from", "to", "tests", "why"):
            if key not in s:
                sys.exit(f"{path}: [{name}]: missing key '{key}'")
        unknown = set(s) - {"file", "from", "to", "tests", "why", "equivalent"}
        if unknown:
            sys.exit(f"{path}: [{name}]: unknown key(s) {', '.join(sorted(unknown))}")
        mutants.append(dict(id=name, file=s["file"], frm=s["from"], to=s["to"],
                            tests=s["tests"].split(), why=s["why"], equivalent=s.get("equivalent")))
    return mutants


def copy_tree(dst):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for rel in files:
        if not rel:
            continue
        rel = rel.decode()
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        out = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        # Unchanged files keep their time stamps so that make rebuilds only what changed; a
        # changed one gets the time of copying (not its own, which may be older than the
        # object built from its previous content), so make rebuilds it.
        if os.path.exists(out) and open(out, "rb").read() == open(src, "rb").read():
            continue
        shutil.copy(src, out)
    # Files deleted from the tree since the last copy must go from the copy too.
    keep = {f.decode() for f in files if f}
    for d, dirs, names in os.walk(dst):
        rel_d = os.path.relpath(d, dst)
        if rel_d == "build" or rel_d.startswith("build" + os.sep):
            dirs[:] = []
            continue
        for n in names:
            rel = os.path.normpath(os.path.join(rel_d, n))
            if rel not in keep:
                os.remove(os.path.join(d, n))


def targets(tests, build):
    t = []
    for name in tests:
        if name.startswith("e2e/"):
            t.append(f"{build}/astrotrain")
        else:
            t.append(f"{build}/tests/{name}")
    return sorted(set(t))


def make(tree, build, tgts, jobs):
    r = subprocess.run(["make", "--no-print-directory", f"-j{jobs}", f"BUILD={build}", *tgts],
                       cwd=tree, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def run_test(tree, build, name, timeout):
    env = dict(os.environ, ASTROTRAIN=os.path.join(tree, build, "astrotrain"))
    if name.startswith("e2e/"):
        cmd = ["bash", f"tests/e2e/{name[4:]}.sh"]
    else:
        cmd = [os.path.join(tree, build, "tests", name)]
    try:
        r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        return "timeout", ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", default=os.path.join(ROOT, "tests", "mutants.ini"))
    ap.add_argument("--only", default=os.environ.get("MUTANTS", ""))
    ap.add_argument("--build", default="build/mutate")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=int, default=240, help="seconds per test program")
    a = ap.parse_args()
    mutants = load(a.list)
    if a.only:
        want = set(a.only.replace(",", " ").split())
        unknown = want - {m["id"] for m in mutants}
        if unknown:
            sys.exit(f"mutate: no mutant named {', '.join(sorted(unknown))} in {a.list}")
        mutants = [m for m in mutants if m["id"] in want]
    tree = os.path.join(ROOT, a.build, "tree")
    build = "build/m"   # inside the copy
    os.makedirs(tree, exist_ok=True)
    copy_tree(tree)
    all_tests = sorted({t for m in mutants for t in m["tests"]})
    print(f"mutate: {len(mutants)} mutants, {len(all_tests)} test programs; building the copy in "
          f"{os.path.relpath(tree, ROOT)}", flush=True)
    rc, out = make(tree, build, targets(all_tests, build), a.jobs)
    if rc:
        print(out[-4000:])
        sys.exit("mutate: the unmutated tree does not build")
    # Every test must pass on the unmutated tree, or a "kill" means nothing.
    for t in all_tests:
        rc, out = run_test(tree, build, t, a.timeout)
        if rc != 0:
            print(out[-4000:])
            sys.exit(f"mutate: {t} fails on the unmutated tree (exit {rc})")
    killed, survived, broken, equivalent = [], [], [], []
    t_all = time.time()
    for i, m in enumerate(mutants, 1):
        path = os.path.join(tree, m["file"])
        try:
            original = open(path, encoding="utf-8").read()
        except OSError as e:
            broken.append(m["id"])
            print(f"BROKEN   {m['id']}: {e}", flush=True)
            continue
        n = original.count(m["frm"])
        if n != 1:
            broken.append(m["id"])
            print(f"BROKEN   {m['id']}: the text to replace occurs {n} times in {m['file']} "
                  f"(must be once): {m['frm']!r}", flush=True)
            continue
        t0 = time.time()
        with open(path, "w", encoding="utf-8") as f:
            f.write(original.replace(m["frm"], m["to"], 1))
        try:
            rc, out = make(tree, build, targets(m["tests"], build), a.jobs)
            if rc:
                broken.append(m["id"])
                print(f"BROKEN   {m['id']}: does not compile (a mutant must build):\n{out[-1500:]}",
                      flush=True)
                continue
            by = None
            for t in m["tests"]:
                rc, _ = run_test(tree, build, t, a.timeout)
                if rc != 0:
                    by = f"{t} ({'time-out' if rc == 'timeout' else f'exit {rc}'})"
                    break
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(original)
            # The mutant's object goes, so make rebuilds the restored file (its time stamp may
            # fall in the same second as the object's).
            if m["file"].endswith(".c"):
                obj = os.path.join(tree, build, m["file"][:-2] + ".o")
                if os.path.exists(obj):
                    os.remove(obj)
            else:
                now = time.time()
                os.utime(path, (now + 1, now + 1))
        dt = time.time() - t0
        tag = f"[{i}/{len(mutants)}] {dt:5.1f}s"
        if by:
            killed.append(m["id"])
            print(f"killed   {m['id']} by {by} {tag}", flush=True)
        elif m["equivalent"]:
            equivalent.append(m["id"])
            print(f"equiv    {m['id']}: {m['equivalent']} {tag}", flush=True)
        else:
            survived.append(m["id"])
            print(f"SURVIVED {m['id']}: {m['why']} ({m['file']}) {tag}", flush=True)
    total = len(mutants) - len(equivalent)
    print(f"mutation score: {len(killed)}/{total} killed, {len(equivalent)} documented equivalent, "
          f"{len(survived)} survived, {len(broken)} broken, {time.time() - t_all:.0f} s")
    if survived:
        print("survived: " + " ".join(survived))
    if broken:
        print("broken: " + " ".join(broken))
    print(f"{len(killed)} passed, {len(survived) + len(broken)} failed")
    return 1 if survived or broken else 0


if __name__ == "__main__":
    sys.exit(main())
