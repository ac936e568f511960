#!/usr/bin/env python3
"""Issue 23's large-object check: boto3, with its current defaults (upload_file: 8 MiB parts,
10 threads), uploads one NDJSON object far over --max-request-size to a `snowstream serve`
child as shipped; every record must land exactly once and the child's peak RSS (VmHWM, from
/proc/PID/status, proc(5)) stay within the goal. Then the same object against a spool smaller
than one part must be refused (EntityTooLarge) before any part is stored.

    target/s3-clients-venv/bin/python scripts/s3_large_object_check.py \
        --bin target/release/snowstream --size-mib 1024 --spool-mib 2048

Needs boto3 (scripts/setup-s3-clients.sh) and the zstd command to read the landed files.
Prints the figures; exits non-zero when a check fails.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import functools

print = functools.partial(print, flush=True)  # noqa: A001 - progress shows as it happens

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

AK, SK = "AKIDLARGEOBJECT", "large-object-secret"
GOAL_RSS_MIB = 256


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_ndjson(path, size):
    """Records of about 200 bytes until `size` bytes; returns how many."""
    n = 0
    written = 0
    pad = "x" * 150
    with open(path, "w") as f:
        while written < size:
            line = json.dumps({"id": n, "name": f"customer {n}", "pad": pad}) + "\n"
            f.write(line)
            written += len(line)
            n += 1
    return n


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing")


def serve(binary, data, spool_mib):
    http, s3 = free_port(), free_port()
    args = [
        binary, "serve",
        "--listen", f"127.0.0.1:{http}",
        "--data-dir", data,
        "--s3-listen", f"127.0.0.1:{s3}",
        "--s3-credentials", f"{AK}:{SK}",
        "--s3-buckets", "raw=customers",
        "--spool-max-bytes", f"{spool_mib}MiB",
        "--log-format", "json",
    ]
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "serve.log"), "w"))
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", s3), timeout=1).close()
            return child, f"http://127.0.0.1:{s3}"
        except OSError:
            time.sleep(0.1)
    child.kill()
    raise RuntimeError("serve did not listen")


def client(endpoint):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}),
    )


def landed_ids(folder):
    ids = set()
    count = 0
    for root, _, files in os.walk(folder):
        for name in files:
            if not name.endswith(".ndjson.zst"):
                continue
            out = subprocess.run(["zstd", "-dc", os.path.join(root, name)], check=True, capture_output=True).stdout
            for line in out.splitlines():
                ids.add(json.loads(line)["record"]["id"])
                count += 1
    return count, ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--spool-mib", type=int, default=2048)
    ap.add_argument("--workdir", default=None, help="where the object and the data dirs go (default: a temp dir)")
    a = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        body = os.path.join(tmp, "object.ndjson")
        t0 = time.time()
        rows = write_ndjson(body, a.size_mib << 20)
        print(f"object: {os.path.getsize(body)} bytes, {rows} records (made in {time.time() - t0:.0f} s)")

        data = os.path.join(tmp, "data")
        os.makedirs(data)
        child, endpoint = serve(a.bin, data, a.spool_mib)
        idle = vm(child.pid, "VmRSS")
        peak_seen = [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    peak_seen[0] = max(peak_seen[0], vm(child.pid, "VmRSS"))
                except (OSError, RuntimeError):
                    return
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.time()
        client(endpoint).upload_file(body, "raw", "big/customers.ndjson", Config=TransferConfig())
        took = time.time() - t0
        hwm = vm(child.pid, "VmHWM")
        stop.set()
        sampler.join()
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=900)
        count, ids = landed_ids(os.path.join(data, "landing"))
        exact = count == rows and len(ids) == rows and min(ids) == 0 and max(ids) == rows - 1
        print(f"upload + complete: {took:.1f} s ({(a.size_mib / took):.1f} MiB/s)")
        print(f"serve RSS: idle {idle >> 20} MiB, peak (VmHWM) {hwm >> 20} MiB, goal {GOAL_RSS_MIB} MiB")
        print(f"landed: {count} records, {len(ids)} distinct, sent {rows}: {'exactly once' if exact else 'MISMATCH'}")
        ok &= exact and hwm <= GOAL_RSS_MIB << 20

        # A spool smaller than one 8 MiB part: the first UploadPart is refused before it is stored.
        data = os.path.join(tmp, "small")
        os.makedirs(data)
        child, endpoint = serve(a.bin, data, 4)
        try:
            client(endpoint).upload_file(body, "raw", "big/too-big.ndjson", Config=TransferConfig())
            print("small spool: ACCEPTED (wrong)")
            ok = False
        except Exception as e:  # boto3 wraps the part's error in S3UploadFailedError
            refused = "EntityTooLarge" in str(e)
            parts = [
                f for _, _, files in os.walk(os.path.join(data, "s3-uploads")) for f in files if f.endswith(".part")
            ]
            print(f"small spool: {'refused with EntityTooLarge' if refused else e}; parts stored: {len(parts)}")
            ok &= refused and not parts
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
