#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Turn the benchmark's measurements (one JSON object per line, as printed by
# azblob_bench and collected by run-bench.sh) into a table, a JSON file with
# the ratios, gnuplot PNGs and a short Markdown report.
#
# Copyright (c) 2026 The hv_azure_blob authors

import json
import os
import subprocess
import sys


# The largest data buffer: 8190 pages, one each for request and response.
MAX_DATA = 8190 * 4096


def load(path):
    """Measurements, and the host's reports on its latency timers."""
    rows, host = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('{'):
                r = json.loads(line)
                (rows if 'mode' in r else host).append(r)
    return rows, host


def median(vals):
    v = sorted(vals)
    n = len(v)
    if not n:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def cpu_pairs(rows):
    """Per pair of back-to-back depth-1 runs: io_uring / sync CPU."""
    out = []
    labels = sorted({r['label'] for r in rows
                     if r['label'].startswith('cpu pair ')})
    for lbl in labels:
        s1 = find(rows, lbl, 'sync', threads=1)
        q1 = find(rows, lbl, 'uring', depth=1)
        v = ratio(q1 and q1['cpu_us_per_op'], s1 and s1['cpu_us_per_op'])
        if v is not None:
            out.append(v)
    return out


def find(rows, label, mode, size=4096, threads=None, depth=None,
         upload=False):
    for r in rows:
        if r['errors']:
            continue
        if (r['label'] == label and r['mode'] == mode and
                r['size'] == size and r['upload'] == upload and
                (threads is None or r['threads'] == threads) and
                (depth is None or r['depth'] == depth)):
            return r
    return None


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt(v, digits=2):
    return 'n/a' if v is None else f'{v:.{digits}f}'


def human(size):
    for unit, div in (('MiB', 1 << 20), ('KiB', 1 << 10)):
        if size >= div and size % div == 0:
            return f'{size // div} {unit}'
    return f'{size} B'


def ratios(rows):
    out = []

    def add(name, value, target, cmp, how):
        met = None
        if value is not None:
            met = value >= target if cmp == '>=' else value <= target
        out.append({'name': name, 'value': value, 'target': target,
                    'cmp': cmp, 'met': met, 'how': how})

    for lat in (1000, 100):
        lbl = f'rate lat={lat}'
        s1 = find(rows, lbl, 'sync', threads=1)
        q32 = find(rows, lbl, 'uring', depth=32)
        if s1 is None and q32 is None:
            continue
        add(f'io_uring Q=32 / sync T=1 ops/s at {lat} us host latency',
            ratio(q32 and q32['ops_per_s'], s1 and s1['ops_per_s']),
            20.0 if lat == 1000 else 1.0, '>=',
            'one thread each, 4 KiB downloads, null backend')
        ideal = 32 / (lat / 1e6)
        add(f'io_uring Q=32 ops/s / ideal Q/latency ({ideal:.0f}/s) at '
            f'{lat} us', ratio(q32 and q32['ops_per_s'], ideal),
            0.9 if lat == 1000 else 0.0, '>=',
            'ideal = depth / host latency')
        q1 = find(rows, lbl, 'uring', depth=1)
        add(f'rig ceiling at {lat} us: 32 x io_uring Q=1 ops/s / ideal',
            ratio(q1 and 32 * q1['ops_per_s'], ideal), 0.0, '>=',
            'the most depth 32 can reach when every request takes the '
            'measured depth-1 round trip (host latency plus the rig\'s '
            'own cost)')
        add(f'io_uring Q=32 ops/s / (32 x io_uring Q=1 ops/s) at {lat} us',
            ratio(q32 and q32['ops_per_s'], q1 and 32 * q1['ops_per_s']),
            0.0, '>=', 'scaling with depth against the measured depth-1 '
            'round trip, which includes the rig\'s own per-request cost')
        t32 = find(rows, lbl, 'sync', threads=32)
        add(f'io_uring Q=32 (1 thread) / sync T=32 (32 threads) ops/s at '
            f'{lat} us', ratio(q32 and q32['ops_per_s'],
                               t32 and t32['ops_per_s']), 0.0, '>=',
            'same concurrency, threads versus one ring')
    s1 = find(rows, 'rate lat=0', 'sync', threads=1)
    q1 = find(rows, 'rate lat=0', 'uring', depth=1)
    pairs = cpu_pairs(rows)
    if pairs:
        add('guest CPU per request: io_uring Q=1 / sync T=1 at 0 latency, '
            f'median of {len(pairs)} back-to-back pairs, instruction clock',
            median(pairs), 1.0, '<=',
            'guest instructions per request (-icount), whole guest; '
            f"pairs {min(pairs):.3f} to {max(pairs):.3f}")
    add('guest CPU per request: io_uring Q=1 / sync T=1 at 0 latency, '
        'rate sweep rows',
        ratio(q1 and q1['cpu_us_per_op'], s1 and s1['cpu_us_per_op']),
        1.0 if not pairs else 0.0, '<=',
        'one pair of the real-time sweep above, within its noise')
    big_s = find(rows, 'size', 'sync', size=MAX_DATA, threads=1)
    big_q = find(rows, 'size', 'uring', size=MAX_DATA, depth=4)
    add('GiB/s at the largest request (32 MiB - 8 KiB): io_uring Q=4 / '
        'sync T=1',
        ratio(big_q and big_q['gib_per_s'], big_s and big_s['gib_per_s']),
        1.0, '>=', 'null backend, no host latency')
    return out


def table(rows):
    lines = ['| label | mode | size | threads | depth | ops/s | GiB/s | '
             'guest CPU us/op | CPU s/GiB | max RSS KiB | errors |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(
            f"| {r['label']}{' (upload)' if r['upload'] else ''} | "
            f"{r['mode']} | {human(r['size'])} | {r['threads']} | "
            f"{r['depth']} | {r['ops_per_s']:.0f} | {r['gib_per_s']:.4f} | "
            f"{r['cpu_us_per_op']:.1f} | {r['cpu_s_per_gib']:.3f} | "
            f"{r['maxrss_kib']} | {r['errors']} |")
    return '\n'.join(lines)


def plot(rows, outdir):
    """Write gnuplot data files and PNGs; return the PNG paths."""
    pngs = []
    lats = sorted({int(r['label'].split('=')[1]) for r in rows
                   if r['label'].startswith('rate lat=')})
    dat = os.path.join(outdir, 'rate.dat')
    with open(dat, 'w') as f:
        for lat in lats:
            for mode, key in (('sync', 'threads'), ('uring', 'depth')):
                f.write(f'# lat={lat} {mode}\n')
                for r in sorted((r for r in rows
                                 if r['label'] == f'rate lat={lat}' and
                                 r['mode'] == mode), key=lambda r: r[key]):
                    f.write(f"{r[key]} {r['ops_per_s']:.1f} "
                            f"{r['cpu_us_per_op']:.2f}\n")
                f.write('\n\n')
    sizes = os.path.join(outdir, 'size.dat')
    with open(sizes, 'w') as f:
        for mode, q in (('sync', 1), ('uring', 1), ('uring', 4)):
            f.write(f'# {mode} {q}\n')
            for r in sorted((r for r in rows if r['label'] == 'size' and
                             r['mode'] == mode and
                             (mode == 'sync' or r['depth'] == q)),
                            key=lambda r: r['size']):
                f.write(f"{r['size']} {r['gib_per_s']:.5f}\n")
            f.write('\n\n')

    script = [
        'set terminal pngcairo size 900,560 noenhanced',
        'set grid', 'set key left top',
        f"set output '{outdir}/ops_by_concurrency.png'",
        "set title 'Requests/s by concurrency (4 KiB, null backend)'",
        "set xlabel 'sync: threads   io_uring: queue depth (one thread)'",
        "set ylabel 'requests/s'", 'set logscale x 2',
    ]
    curves = []
    idx = 0
    for lat in lats:
        for mode in ('sync', 'uring'):
            curves.append(f"'{dat}' index {idx} using 1:2 with linespoints "
                          f"title '{mode}, host latency {lat} us'")
            idx += 1
    script.append('plot ' + ', '.join(curves))
    script += [
        f"set output '{outdir}/gib_by_size.png'",
        "set title 'Throughput by request size (null backend, no latency)'",
        "set xlabel 'request data size (bytes)'", "set ylabel 'GiB/s'",
        'set logscale x 2',
        f"plot '{sizes}' index 0 using 1:2 with linespoints title "
        f"'sync, 1 thread', '{sizes}' index 1 using 1:2 with linespoints "
        f"title 'io_uring, depth 1', '{sizes}' index 2 using 1:2 with "
        f"linespoints title 'io_uring, depth 4'",
        f"set output '{outdir}/cpu_per_request.png'",
        "set title 'Guest CPU per request (4 KiB, null backend)'",
        "set xlabel 'threads / queue depth'", "set ylabel 'us per request'",
        'set logscale x 2',
        'plot ' + ', '.join(c.replace('using 1:2', 'using 1:3')
                            for c in curves),
    ]
    gp = os.path.join(outdir, 'plots.gp')
    with open(gp, 'w') as f:
        f.write('\n'.join(script) + '\n')
    subprocess.run(['gnuplot', gp], check=True)
    for name in ('ops_by_concurrency', 'gib_by_size', 'cpu_per_request'):
        pngs.append(os.path.join(outdir, name + '.png'))
    return pngs


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: report.py RESULTS.jsonl OUTDIR')
    rows, host = load(sys.argv[1])
    outdir = sys.argv[2]
    if not rows:
        sys.exit('report.py: no measurements in ' + sys.argv[1])
    rs = ratios(rows)
    with open(os.path.join(outdir, 'results.json'), 'w') as f:
        json.dump({'measurements': rows, 'ratios': rs,
                   'host_latency': host}, f, indent=1)
    pngs = plot(rows, outdir)

    md = ['# hv_azure_blob benchmark', '',
          'Method: two boots of the test VM (QEMU TCG, 1 vCPU, emulated '
          'VMBus, reference VSP on the host), one for the rates, sizes and '
          'the echo backend and one for the depth-1 CPU pairs. Every row '
          'below was measured in one of them, one after another, by '
          '`azblob_bench`; the two rows of a comparison come from the same '
          'boot; each '
          'comparison is a ratio of two rows. The host backend `null` '
          'completes each request after a fixed latency without touching '
          'the data; `echo` reads or writes every data byte. Guest CPU is '
          'the time the guest was not idle (elapsed time minus the exactly '
          'measured tickless idle time of /proc/stat) divided by the '
          'requests: it includes the completion softirq and the time the '
          'emulated CPU spends in doorbell and interrupt exits. In real '
          'time that varies by 10-20% from run to run with the load of the '
          'host, as much as the difference sought at depth 1; so the '
          'depth-1 CPU comparison (`cpu pair` rows) runs in a second boot '
          'whose guest clock counts instructions (QEMU `-icount shift=0`, '
          '1 ns per instruction): its busy time per request is the number '
          'of guest instructions per request, repeatable to about 1%. It '
          'is the median of back-to-back pairs. Absolute numbers are those '
          'of an emulated CPU; the ratios are the result.', '',
          '## Ratios', '', '| comparison | value | target | met |',
          '|---|---|---|---|']
    for r in rs:
        met = 'n/a' if r['met'] is None else ('yes' if r['met'] else 'no')
        tgt = f"{r['cmp']} {r['target']}" if r['target'] else 'reported'
        if not r['target']:
            met = '-'
        md.append(f"| {r['name']} ({r['how']}) | {fmt(r['value'])} | "
                  f"{tgt} | {met} |")
    if host:
        md += ['', '## Host latency as delivered', '',
               'The VSP measures how much later than set each `latency` '
               'timer ended (timer slack 1 ns):', '',
               '| host latency | timers | mean lateness |', '|---|---|---|']
        md += [f"| {h['latency_us']} us | {h['fired']} | "
               f"{h['late_ns'] / 1000:.1f} us |" for h in host]
    md += ['', '## Measurements', '', table(rows), '', '## Plots', '']
    md += [f'![{os.path.basename(p)}]({os.path.basename(p)})' for p in pngs]
    with open(os.path.join(outdir, 'report-busybox.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')

    print(table(rows))
    print()
    for h in host:
        print(f"host latency {h['latency_us']} us: {h['fired']} timers, "
              f"{h['late_ns'] / 1000:.1f} us late on average")
    for r in rs:
        print(f"ratio: {r['name']}: {fmt(r['value'])}"
              + (f" (target {r['cmp']} {r['target']})" if r['target']
                 else ''))
    print(f'report: {outdir}/report-busybox.md')


if __name__ == '__main__':
    main()
