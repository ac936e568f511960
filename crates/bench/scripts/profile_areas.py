#!/usr/bin/env python3
"""Where the receiver's CPU goes, by area, from a `perf record -e cpu-clock --call-graph dwarf`
of snowstream-bench (docs/performance.md says how it was recorded).

perf 6.1 (Debian 12) leaves the Rust binary's frames unresolved ("build id not found"), so
this script symbolizes them itself: `perf script` prints each frame's file offset, which is
mapped to the binary's virtual addresses through its LOAD segments and looked up in `nm`.

usage: profile_areas.py PERF_DATA BINARY [THREAD_PREFIX ...]   (default: srv-w spool)
"""
import bisect
import collections
import re
import subprocess
import sys

AREAS = [
    ("metrics recording", r"^metrics|metrics_exporter_prometheus|metrics_util"),
    ("tracing / TraceLayer", r"tower_http::trace|tracing_core|^tracing::"),
    ("header-case scanner", r"snowstream::header_case"),
    ("client_cert middleware (from_fn)", r"snowstream::peer|axum::middleware::from_fn"),
    ("attributes + meta (attrs::apply, begin_group, uuid)", r"server::attrs|begin_group|set_attr|uuid::|now_nanos"),
    ("record parse (records::parse, serde_json)", r"records::parse|serde_json"),
    ("spool append + ack wait (landing::service)", r"landing::service|landing::spool"),
    ("response building (listen::accepted, errors)", r"server::listen::accepted|server::error"),
    ("body read (ingest::read_flowfiles, timeout)", r"server::ingest::read_flowfiles|http_body_util|tower_http::timeout"),
    ("axum routing / extractors", r"axum::routing|axum::extract|matchit"),
    ("hyper h1 (parse, encode, dispatch)", r"^hyper::"),
    ("tokio scheduler / timers", r"tokio::runtime::(scheduler|park|time|task|context)|tokio::sync|tokio::time"),
]
ALLOC = r"malloc|_int_free|^free$|cfree|unlink_chunk|tcache|realloc|malloc_consolidate|^mi_|_mi_"


def symbols(binary):
    loads = []
    for line in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
    table = []
    nm = subprocess.run(["nm", "-C", "--defined-only", "-n", binary], capture_output=True, text=True).stdout
    for line in nm.splitlines():
        p = line.split(" ", 2)
        if len(p) == 3 and p[1] in "tTwW":
            table.append((int(p[0], 16), p[2]))
    addrs = [a for a, _ in table]

    def name(offset):
        vaddr = offset
        for off, va, size in loads:
            if off <= offset < off + size:
                vaddr = offset - off + va
        i = bisect.bisect_right(addrs, vaddr) - 1
        n = table[i][1] if i >= 0 else "?"
        for _ in range(4):
            n = re.sub(r"<[^<>]*>", "", n)
        return re.sub(r"::h[0-9a-f]{16}$", "", n)

    return name


def samples(data, binary):
    name = symbols(binary)
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,ip,sym,dso"],
                         capture_output=True, text=True).stdout
    cur = None
    for line in out.splitlines():
        if not line.strip():
            if cur:
                yield cur
            cur = None
        elif not line.startswith("\t"):
            cur = (line.split()[0] if line.split() else "?", [])
        elif cur is not None:
            m = re.match(r"\s*([0-9a-f]+) (.*) \((.*)\)$", line.rstrip())
            if m:
                ip, sym, dso = m.groups()
                if dso.endswith(binary.split("/")[-1]):
                    sym = name(int(ip, 16))
                cur[1].append((sym, dso))
    if cur:
        yield cur


def area(frames):
    leaf, dso = frames[0]
    if dso == "[kernel.kallsyms]":
        ks = " ".join(f for f, d in frames if d == "[kernel.kallsyms]")
        if re.search(r"tcp|sock|writev|recv|sendmsg|skb", ks):
            return "kernel: socket I/O (loopback TCP, both ends)"
        if re.search(r"fsync|ext4|ksys_write", ks):
            return "kernel: spool file write + fdatasync"
        return "kernel: scheduling, futex, epoll, timers"
    if re.search(ALLOC, leaf):
        return "allocation (malloc/free)"
    for f, _ in frames:
        for a, rx in AREAS:
            if re.search(rx, f):
                return a
    return "other"


def main():
    data, binary = sys.argv[1], sys.argv[2]
    prefixes = sys.argv[3:] or ["srv-w", "spool"]
    all_samples = list(samples(data, binary))
    by_thread = collections.Counter(c for c, fr in all_samples)
    total = len(all_samples)
    print(f"{total} samples; by thread: " + ", ".join(
        f"{c} {100 * n / total:.1f}%" for c, n in by_thread.most_common(8)))
    for prefix in prefixes:
        chosen = [fr for c, fr in all_samples if c.startswith(prefix) and fr]
        counts = collections.Counter(area(fr) for fr in chosen)
        print(f"\nthreads {prefix}*: {len(chosen)} samples, by innermost area")
        for a, n in counts.most_common():
            print(f"  {100 * n / max(len(chosen), 1):5.1f}%  {a}")


if __name__ == "__main__":
    main()
