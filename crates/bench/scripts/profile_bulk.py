#!/usr/bin/env python3
"""Where the bulk scenario's CPU goes, by pipeline stage, from a `perf record -e cpu-clock
--call-graph dwarf` of `snowstream-bench --scenarios bulk --targets snowstream`
(docs/performance.md, "Bulk"). Frames are symbolized by profile_areas.py; each sample goes to
the first stage (innermost first) that matches its stack, kernel samples by what the kernel
was doing.

usage: profile_bulk.py PERF_DATA BINARY
"""
import collections
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from profile_areas import samples  # noqa: E402

STAGES = [
    ("zstd compression", r"^ZSTD_|^HUF_|^FSE_|zstd::|zstd_safe::"),
    ("sha256 of the landed file", r"sha2::"),
    ("landed line building (LineWriter, encode::write_lines)", r"records::landed::line|LineWriter|landing::encode::write_lines|Counting"),
    ("segment read back (read_frame, crc32c, Payload::parse)", r"landing::spool::segment::(read_frame|for_each_frame)|records::batch::Payload|crc32c"),
    ("sink put (local write + fsync + rename, manifest)", r"landing::sink::|serde_json::ser"),
    ("NDJSON parse + validate (records::parse, serde_json)", r"records::parse|serde_json::de|serde_json::read|RawValue"),
    ("batch packing (records::batch)", r"records::batch"),
    ("spool append (frame write, crc32c, group commit)", r"landing::spool|landing::service"),
    ("HTTP body read (hyper, http_body_util, bytes)", r"^hyper::|http_body_util|server::ingest|^bytes::"),
    ("load generator (reqwest/hyper client)", r"bench::load|reqwest|hyper_util::client"),
    ("tokio scheduler / blocking pool", r"^tokio::"),
]
MEMCPY = r"memcpy|memmove|__memcpy|__memmove"


def stage(frames):
    leaf, dso = frames[0]
    if dso == "[kernel.kallsyms]":
        ks = " ".join(f for f, d in frames if d == "[kernel.kallsyms]")
        if re.search(r"tcp|sock|recv|sendmsg|skb", ks):
            return "kernel: loopback TCP"
        if re.search(r"fsync|sync_file|file_write_and_wait|writeback", ks):
            return "kernel: fsync / writeback"
        if re.search(r"ksys_write|vfs_write|generic_perform_write|ext4_buffered_write", ks):
            return "kernel: file write (page cache)"
        if re.search(r"ksys_read|vfs_read|filemap_read|copy_page_to_iter", ks):
            return "kernel: file read (page cache)"
        if re.search(r"unlink|rename|ext4_evict|truncate", ks):
            return "kernel: unlink / rename"
        if re.search(r"page_fault|do_anonymous|mmap|munmap|madvise|clear_page", ks):
            return "kernel: page faults / mmap (allocation)"
        return "kernel: scheduling, futex, epoll, other"
    for f, _ in frames:
        for name, rx in STAGES:
            if re.search(rx, f):
                if re.search(MEMCPY, leaf):
                    return name + " [memcpy]"
                return name
    if re.search(r"malloc|free|^mi_|_mi_", leaf):
        return "allocation (other)"
    return "other"


def main():
    data, binary = sys.argv[1], sys.argv[2]
    all_samples = [s for s in samples(data, binary) if s[1]]
    total = len(all_samples)
    by_thread = collections.Counter(re.sub(r"[0-9]+$", "", c) for c, _ in all_samples)
    print(f"{total} samples; by thread group: " + ", ".join(
        f"{c} {100 * n / total:.1f}%" for c, n in by_thread.most_common(8)))
    counts = collections.Counter(stage(fr) for _, fr in all_samples)
    print("\nwhole process, by innermost stage:")
    for name, n in counts.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    for group in ["srv-w", "srv-blk", "spool", "load-rt"]:
        chosen = [fr for c, fr in all_samples if c.startswith(group)]
        if not chosen:
            continue
        counts = collections.Counter(stage(fr) for fr in chosen)
        print(f"\nthreads {group}*: {len(chosen)} samples ({100 * len(chosen) / total:.1f}%)")
        for name, n in counts.most_common(8):
            print(f"  {100 * n / len(chosen):5.1f}%  {name}")


if __name__ == "__main__":
    main()
