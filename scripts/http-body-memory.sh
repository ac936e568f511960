#!/usr/bin/env bash
# Peak RSS of a `snowstream serve` on defaults taking eight concurrent NDJSON POSTs of one
# body of BYTES bytes (~137-byte records); prints each answer's first line and the serve
# process's VmHWM (docs/performance.md, ninth round). Loopback only, eight requests.
#
#   scripts/http-body-memory.sh [BYTES] [SNOWSTREAM_BIN] [WORKDIR]
#
# SERVE_ARGS adds `serve` arguments (e.g. SERVE_ARGS='--max-request-size 4GiB' so that bodies
# whose landed lines pass the default 256 MiB are accepted).
set -euo pipefail
size=${1:-40000000}
bin=${2:-target/release/snowstream}
work=${3:-$(mktemp -d)}
port=18080
mkdir -p "$work"
python3 - "$work/body.ndjson" "$size" <<'PY'
import json, random, sys
random.seed(7)
path, target = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    n = size = 0
    while True:
        rec = json.dumps({"id": n, "name": f"customer-{n}", "email": f"c{n}@example.com",
                          "city": random.choice(["Zurich", "Berlin", "Lyon", "Porto"]),
                          "note": "%032x" % random.getrandbits(128)}) + "\n"
        if size + len(rec) > target:
            break
        f.write(rec)
        size += len(rec)
        n += 1
PY
rm -rf "$work/data" "$work/landing"
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --landing-dir "$work/landing" \
  --spool-max-bytes 12GiB ${SERVE_ARGS:-} > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf -o /dev/null -I "http://127.0.0.1:$port/contentListener" && break
  sleep 0.1
done
clients=()
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o "$work/answer.$i" -H 'Content-Type: application/x-ndjson' \
    --data-binary @"$work/body.ndjson" "http://127.0.0.1:$port/contentListener/customers" &
  clients+=($!)
done
wait "${clients[@]}"
for i in 1 2 3 4 5 6 7 8; do head -c 100 "$work/answer.$i"; echo; done | sort | uniq -c
grep VmHWM "/proc/$pid/status"
