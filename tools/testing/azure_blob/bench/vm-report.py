#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# vm-report.py --guest LOG --marks FILE --out DIR [--meta K=V]...: the
# report of the Debian benchmark (bench/vm-bench.sh). Pairs the guest's
# BENCHRUN lines (bench_run) in order with the insn_count plugin's marks
# (tag 1 then tag 2 per line) and writes DIR/vm-bench.json (meta, raw
# samples, per path and direction the mean and spread, the target ratios),
# DIR/report.md and, with gnuplot, DIR/insns-per-gib.png,
# DIR/categories.png, DIR/throughput.png and DIR/seed.png. With --prof
# (the plugin's profile) the instructions of every transfer are also
# attributed to functions and categories (vm_profile.py). Ratios are
# reported, never asserted.
#
# Copyright (c) 2026 The hv_azure_blob authors

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True	# no __pycache__ in the source tree
import vm_profile  # noqa: E402

GIB = 1 << 30
MIB = 1 << 20
PATH_NAMES = {
    "dev": "azblob, /dev/azure_blob (io_uring)",
    "dev-nomd5": "azblob --no-md5, /dev/azure_blob",
    "http": "azblob, HTTP over virtio-net",
    "https": "azblob, HTTPS over virtio-net",
    "https-nomd5": "azblob --no-md5, HTTPS over virtio-net",
    "azd": "azblob (http transport) through azblobd",
    "py": "python3-azure-storage, HTTPS over virtio-net",
    "pyd": "python3-azure-storage through azblobd",
    "rclone": "rclone, HTTPS over virtio-net",
    "rcloned": "rclone through azblobd",
}
# paths whose transfers also run azblobd's code
DAEMON_PATHS = {"azd", "pyd", "rcloned"}
# 2021: 100 clients, 100 GB each, over HTTP and through the device.
SEED_2021 = {"http_min": 94.4, "dev_min": 72.5}


def load(guest, marks):
    runs, bench = [], []
    with open(guest, errors="replace") as f:
        for line in f:
            line = line.replace("\r", "").strip()
            if line.startswith("BENCHRUN "):
                runs.append(json.loads(line[len("BENCHRUN "):]))
            elif line.startswith("BENCH "):
                bench.append(json.loads(line[len("BENCH "):]))
    pairs, start = [], None
    if os.path.exists(marks):
        with open(marks) as f:
            for line in f:
                w = line.split()
                if len(w) != 5 or w[0] != "mark":
                    continue
                tag, user, kern = int(w[2], 16), int(w[3]), int(w[4])
                if tag == 1:
                    start = (user, kern)
                elif tag == 2 and start:
                    pairs.append((user - start[0], kern - start[1],
                                  int(w[1])))
                    start = None
    if len(pairs) != len(runs):
        print("vm-report: %d measured transfers, %d marker pairs: "
              "instructions left out" % (len(runs), len(pairs)),
              file=sys.stderr)
        pairs = []
    for i, r in enumerate(runs):
        if pairs:
            r["insns_user"], r["insns_kernel"], r["mark_end"] = pairs[i]
    return runs, bench


def derive(r, meta):
    w = r["label"].split()
    if w[0] == "seed":
        r.update(kind="seed", path=w[1], op="get",
                 bytes=meta["seed_n"] * meta["seed_mib"] * MIB)
    else:
        r.update(kind="path", path=w[0], op=w[1], rep=int(w[2]),
                 bytes=meta["blob_mib"] * MIB)
    g = r["bytes"] / GIB
    st = r["stat"]
    busy = sum(st[k] for k in ("user", "nice", "system", "irq", "softirq",
                               "steal"))
    r["mib_per_s"] = r["bytes"] / MIB / r["wall_s"]
    r["client_cpu_s_per_gib"] = (r["child_user_s"] + r["child_sys_s"]) / g
    r["client_user_s_per_gib"] = r["child_user_s"] / g
    r["client_sys_s_per_gib"] = r["child_sys_s"] / g
    r["guest_busy_s_per_gib"] = busy / g
    r["guest_softirq_s_per_gib"] = st["softirq"] / g
    r["guest_system_s_per_gib"] = st["system"] / g
    if "insns_user" in r:
        r["insns_per_gib"] = (r["insns_user"] + r["insns_kernel"]) / g
        r["insns_user_per_gib"] = r["insns_user"] / g
        r["insns_kernel_per_gib"] = r["insns_kernel"] / g


def summarize(runs):
    keys = ["insns_per_gib", "insns_user_per_gib", "insns_kernel_per_gib",
            "mib_per_s", "client_cpu_s_per_gib", "client_user_s_per_gib",
            "client_sys_s_per_gib", "guest_busy_s_per_gib",
            "guest_softirq_s_per_gib"]
    out = {}
    for r in runs:
        if r["kind"] != "path" or r["rc"] != 0:
            continue
        out.setdefault((r["path"], r["op"]), []).append(r)
    summ = []
    for (p, op), rs in out.items():
        s = {"path": p, "op": op, "n": len(rs)}
        for k in keys:
            v = [r[k] for r in rs if k in r]
            if not v:
                continue
            mean = sum(v) / len(v)
            s[k] = mean
            s[k + "_spread_pct"] = ((max(v) - min(v)) / mean * 100
                                    if mean else 0.0)
        prof = [r["profile"] for r in rs if "profile" in r]
        if prof:
            s["profile"] = merge_profiles(prof, rs)
        summ.append(s)
    order = list(PATH_NAMES)
    summ.sort(key=lambda s: (order.index(s["path"]) if s["path"] in order
                             else 99, s["op"] != "put"))
    return summ


def merge_profiles(prof, rs):
    """The mean of the transfers' profiles of one path and direction."""
    n = len(prof)
    cats, top = {}, {}
    for p in prof:
        for k, v in p["categories_per_gib"].items():
            cats[k] = cats.get(k, 0) + v / n
        for t in p["top_per_gib"]:
            key = (t["where"], t["category"], t["symbol"])
            top[key] = top.get(key, 0) + t["per_gib"] / n
    counted = sum(r.get("insns_user", 0) + r.get("insns_kernel", 0)
                  for r in rs if "profile" in r)
    return {
        "client": prof[0]["client"],
        "coverage": (sum(p["insns"] for p in prof) / counted
                     if counted else None),
        "categories_per_gib": dict(sorted(cats.items(),
                                          key=lambda kv: -kv[1])),
        "top_per_gib": [{"where": w, "category": c, "symbol": sy,
                         "per_gib": v} for (w, c, sy), v in
                        sorted(top.items(), key=lambda kv: -kv[1])[:25]],
    }


def find(summ, p, op):
    for s in summ:
        if s["path"] == p and s["op"] == op:
            return s
    return None


def ratios(summ, runs, bench):
    out = []

    def add(name, value, target, cmp, note=""):
        met = None
        if value is not None and target is not None:
            met = value <= target if cmp == "<=" else value >= target
        out.append({"name": name, "value": value, "target": target,
                    "cmp": cmp, "met": met, "note": note})

    for op in ("put", "get"):
        d, h = find(summ, "dev", op), find(summ, "https", op)
        v = (d["insns_per_gib"] / h["insns_per_gib"]
             if d and h and "insns_per_gib" in d and "insns_per_gib" in h
             else None)
        add("device insns/GiB / azblob-HTTPS insns/GiB (%s)" % op, v, 0.05,
            "<=")
    # For the reading, no target: the transport's share and the others.
    for op in ("put", "get"):
        d = find(summ, "dev", op)
        for other, col, what in (("https", "insns_kernel_per_gib", "kernel"),
                                 ("http", "insns_per_gib", "all"),
                                 ("py", "insns_per_gib", "all")):
            o = find(summ, other, op)
            v = (d[col] / o[col] if d and o and col in d and col in o
                 else None)
            add("device / %s insns/GiB, %s (%s)" % (other, what, op), v,
                None, "")
    for op in ("put", "get"):
        d, h = find(summ, "dev-nomd5", op), find(summ, "https-nomd5", op)
        v = (d["insns_per_gib"] / h["insns_per_gib"]
             if d and h and "insns_per_gib" in d and "insns_per_gib" in h
             else None)
        add("device / azblob-HTTPS insns/GiB, both --no-md5 (%s)" % op, v,
            0.05, "<=", "the client's MD5 off on both paths")
    for op in ("put", "get"):
        d, h = find(summ, "pyd", op), find(summ, "py", op)
        v = (d["insns_per_gib"] / h["insns_per_gib"]
             if d and h and "insns_per_gib" in d and "insns_per_gib" in h
             else None)
        add("python via azblobd / python over HTTPS insns/GiB (%s)" % op, v,
            0.5, "<=")
    for a, b, what in (("rcloned", "rclone", "rclone via azblobd / rclone "
                        "over HTTPS"),
                       ("azd", "https", "azblob via azblobd / azblob over "
                        "HTTPS")):
        for op in ("put", "get"):
            d, h = find(summ, a, op), find(summ, b, op)
            v = (d["insns_per_gib"] / h["insns_per_gib"]
                 if d and h and "insns_per_gib" in d and
                 "insns_per_gib" in h else None)
            add("%s insns/GiB (%s)" % (what, op), v, None, "")
    seed = {r["path"]: r for r in runs if r["kind"] == "seed" and r["rc"] == 0}
    v = (seed["https"]["wall_s"] / seed["dev"]["wall_s"]
         if "dev" in seed and "https" in seed else None)
    add("N-client device throughput / HTTPS throughput", v, 1.3, ">=")
    d1 = [b for b in bench if b.get("depth") == 1 and "ops_per_s" in b]
    d32 = [b for b in bench if b.get("depth") == 32 and "ops_per_s" in b]
    v = (d32[0]["ops_per_s"] / (32 * d1[0]["ops_per_s"])
         if d1 and d32 and d1[0]["ops_per_s"] else None)
    add("depth 32 / (32 x depth 1) rate, 1 ms host latency", v, 0.95, ">=",
        "4 KiB downloads, null backend, azblob_bench in the same guest")
    return out


def fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def report_md(meta, summ, runs, bench, rat, out):
    L = []
    L.append("# What the driver saves the VM\n")
    L.append("Debian 12 guest (%s), %d MiB blobs in 4 MiB requests, 4 in "
             "flight, %d rounds. Host emulated, guest CPU emulated (QEMU "
             "TCG, `-cpu max`), no Azure back end (Azurite): the figure "
             "that carries over is the guest's cost per GiB, not the wall "
             "time.\n" % (meta.get("kernel", "?"), meta["blob_mib"],
                          meta["reps"]))
    L.append("## Per path\n")
    L.append("| path | dir | guest insns/GiB (spread) | user | kernel | "
             "client CPU s/GiB (user+sys) | guest busy s/GiB (softirq) | "
             "MiB/s (spread) |")
    L.append("|---|---|---|---|---|---|---|---|")
    for s in summ:
        L.append("| %s | %s | %s (%s%%) | %s | %s | %s (%s+%s) | %s (%s) | "
                 "%s (%s%%) |" % (
                     PATH_NAMES.get(s["path"], s["path"]), s["op"],
                     fmt(s.get("insns_per_gib")),
                     fmt(s.get("insns_per_gib_spread_pct"), ".2f"),
                     fmt(s.get("insns_user_per_gib")),
                     fmt(s.get("insns_kernel_per_gib")),
                     fmt(s.get("client_cpu_s_per_gib")),
                     fmt(s.get("client_user_s_per_gib")),
                     fmt(s.get("client_sys_s_per_gib")),
                     fmt(s.get("guest_busy_s_per_gib")),
                     fmt(s.get("guest_softirq_s_per_gib")),
                     fmt(s.get("mib_per_s")),
                     fmt(s.get("mib_per_s_spread_pct"), ".1f")))
    L.append("\nSpread: (max - min) / mean over the rounds.\n")
    seed = {r["path"]: r for r in runs if r["kind"] == "seed"}
    L.append("## Seed table\n")
    L.append("%d clients at once, each downloading its own %d MiB blob.\n"
             % (meta["seed_n"], meta["seed_mib"]))
    L.append("| | HTTP(S) | device | HTTP(S) / device |")
    L.append("|---|---|---|---|")
    L.append("| 2021: 100 clients x 100 GB (min) | %.1f | %.1f | %.2f |" % (
        SEED_2021["http_min"], SEED_2021["dev_min"],
        SEED_2021["http_min"] / SEED_2021["dev_min"]))
    if "dev" in seed and "https" in seed:
        L.append("| here: %d x %d MiB, HTTPS (s) | %.1f | %.1f | %.2f |" % (
            meta["seed_n"], meta["seed_mib"], seed["https"]["wall_s"],
            seed["dev"]["wall_s"],
            seed["https"]["wall_s"] / seed["dev"]["wall_s"]))
        for p in ("https", "dev"):
            r = seed[p]
            L.append("\n%s: %s insns/GiB, guest busy %s s/GiB, rc %d" % (
                p, fmt(r.get("insns_per_gib")),
                fmt(r["guest_busy_s_per_gib"]), r["rc"]))
    L.append("\n## Targets (ratios, reported, not asserted)\n")
    L.append("| ratio | value | target | met |")
    L.append("|---|---|---|---|")
    for x in rat:
        L.append("| %s | %s | %s %s | %s |" % (
            x["name"] + (" (%s)" % x["note"] if x["note"] else ""),
            fmt(x["value"], ".4f"), x["cmp"],
            "-" if x["target"] is None else x["target"],
            "-" if x["met"] is None else ("yes" if x["met"] else "no")))
    profile_md(L, summ)
    if bench:
        L.append("\n## Depth scaling (azblob_bench)\n")
        for b in bench:
            L.append("- %s depth %s: %s ops/s" % (
                b.get("label"), b.get("depth"), fmt(b.get("ops_per_s"))))
    L.append("\nRaw samples: vm-bench.json. Method: "
             "tools/testing/azure_blob/bench/README.md.\n")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def category_order(summ):
    tot = {}
    for s in summ:
        for k, v in s.get("profile", {}).get("categories_per_gib", {}).items():
            tot[k] = tot.get(k, 0) + v
    return [k for k, _ in sorted(tot.items(), key=lambda kv: -kv[1])]


def profile_md(L, summ):
    cats = category_order(summ)
    if not cats:
        return
    L.append("\n## Where the instructions go (profile)\n")
    L.append("Every executed block's instructions, attributed by address "
             "(insn_count's profile): kernel addresses to the guest's "
             "kallsyms, user addresses to the files and functions of the "
             "measured client's memory map (and azblobd's, on its paths), "
             "grouped by the rules of vm_profile.py. 10^9 instructions per "
             "GiB; covered: the profile's sum over the counted total.\n")
    for op in ("put", "get"):
        ss = [s for s in summ if s["op"] == op and "profile" in s]
        if not ss:
            continue
        L.append("\n### %s\n" % ("upload (put)" if op == "put"
                                   else "download (get)"))
        L.append("| category | " + " | ".join(s["path"] for s in ss) + " |")
        L.append("|---|" + "---|" * len(ss))
        for c in cats:
            L.append("| %s | " % c + " | ".join(
                fmt(s["profile"]["categories_per_gib"].get(c, 0) / 1e9, ".3g")
                for s in ss) + " |")
        L.append("| total | " + " | ".join(
            fmt(sum(s["profile"]["categories_per_gib"].values()) / 1e9, ".3g")
            for s in ss) + " |")
        L.append("| covered | " + " | ".join(
            fmt(s["profile"]["coverage"], ".3f") for s in ss) + " |")
    L.append("\n### Top functions per path (10^9 instructions per GiB)\n")
    for s in summ:
        if "profile" not in s:
            continue
        L.append("- **%s %s** (%s): " % (s["path"], s["op"],
                                         s["profile"]["client"]) +
                 "; ".join("%s %s [%s]" % (
                     t["symbol"], fmt(t["per_gib"] / 1e9, ".3g"),
                     t["category"]) for t in s["profile"]["top_per_gib"][:8]))


def plots(summ, runs, out):
    if not shutil.which("gnuplot"):
        print("vm-report: no gnuplot, no PNGs", file=sys.stderr)
        return
    dat = os.path.join(out, "paths.dat")
    with open(dat, "w") as f:
        f.write("label user_insns kernel_insns mib_s\n")
        for s in summ:
            f.write("%s-%s %g %g %g\n" % (
                s["path"], s["op"], s.get("insns_user_per_gib", 0) / 1e9,
                s.get("insns_kernel_per_gib", 0) / 1e9, s["mib_per_s"]))
    cats = category_order(summ)
    cdat = os.path.join(out, "categories.dat")
    with open(cdat, "w") as f:
        f.write("label " + " ".join('"%s"' % c for c in cats) + "\n")
        for s in summ:
            if "profile" not in s:
                continue
            pc = s["profile"]["categories_per_gib"]
            f.write("%s-%s " % (s["path"], s["op"]) +
                    " ".join("%g" % (pc.get(c, 0) / 1e9) for c in cats) +
                    "\n")
    sdat = os.path.join(out, "seed.dat")
    with open(sdat, "w") as f:
        f.write("label seconds\n")
        for r in runs:
            if r["kind"] == "seed":
                f.write("%s %g\n" % (r["path"], r["wall_s"]))
    common = "set terminal png size 900,500; set style fill solid 0.8 border -1; " \
             "set boxwidth 0.7; set grid ytics; set key top left; "
    scripts = [
        common + "set output '%s/insns-per-gib.png'; "
        "set title 'guest instructions per GiB (whole guest, TCG plugin)'; "
        "set ylabel '10^9 instructions / GiB'; set style data histograms; "
        "set style histogram rowstacked; set xtics rotate by -30; "
        "plot '%s' using 2:xtic(1) title 'user', '' using 3 title 'kernel'"
        % (out, dat),
        common + "set output '%s/throughput.png'; "
        "set title 'wall-clock throughput (emulated host and guest)'; "
        "set ylabel 'MiB/s'; set style data histograms; set xtics rotate by -30; "
        "plot '%s' using 4:xtic(1) title 'MiB/s'" % (out, dat),
        common + "set terminal png size 1200,700; "
        "set output '%s/categories.png'; set key outside right noenhanced; "
        "set title 'guest instructions per GiB by category (profile)'; "
        "set ylabel '10^9 instructions / GiB'; set style data histograms; "
        "set style histogram rowstacked; set xtics rotate by -30; "
        "set key autotitle columnhead; "
        "plot for [i=2:%d] '%s' using i:xtic(1)" % (out, len(cats) + 1,
                                                     cdat),
        common + "set output '%s/seed.png'; "
        "set title 'seed table: N clients at once, total time'; "
        "set ylabel 's'; set style data histograms; "
        "plot '%s' using 2:xtic(1) title 'seconds'" % (out, sdat),
    ]
    if not cats:
        scripts.pop(2)
    for sc in scripts:
        subprocess.run(["gnuplot", "-e", sc], check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--guest", required=True)
    ap.add_argument("--marks", required=True)
    ap.add_argument("--prof", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()
    meta = {}
    for kv in a.meta:
        k, v = kv.split("=", 1)
        meta[k] = int(v) if v.isdigit() else v
    runs, bench = load(a.guest, a.marks)
    if not runs:
        sys.exit("vm-report: no measurements in %s" % a.guest)
    for r in runs:
        derive(r, meta)
    note = vm_profile.profile_samples(runs, a.prof, a.guest,
                                   lambda r: r["bytes"] / GIB, DAEMON_PATHS)
    if note:
        print("vm-report: no profile: %s" % note, file=sys.stderr)
    summ = summarize(runs)
    rat = ratios(summ, runs, bench)
    with open(os.path.join(a.out, "vm-bench.json"), "w") as f:
        json.dump({"meta": meta, "samples": runs, "depth": bench,
                   "summary": summ, "ratios": rat}, f, indent=1)
    report_md(meta, summ, runs, bench, rat, a.out)
    plots(summ, runs, a.out)
    with open(os.path.join(a.out, "report.md")) as f:
        sys.stdout.write(f.read())


if __name__ == "__main__":
    main()
