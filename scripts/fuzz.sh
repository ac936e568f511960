#!/usr/bin/env bash
# Fuzzes the decoders of untrusted input with cargo-fuzz (libFuzzer):
#   flowfile: decode   (FlowFile v3/v2 packages, whole and in chunks)
#   records:  parse    (JSON / NDJSON / CSV content, plain or through the capped gunzip)
#   records:  landed   (landed-file keys and lines)
# Usage: scripts/fuzz.sh [--short | --seconds N]
#   --short      what CI runs: a fixed number of runs from a fixed seed, so a run is
#                reproducible (same inputs every time) and bounded (about a minute in all)
#   --seconds N  each target for N seconds from a random seed (for a longer hunt by hand)
# A crash stops the script non-zero and leaves its input in crates/*/fuzz/artifacts/; keep
# such an input as a regression test next to the code it broke.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=(-runs=300000 -seed=1)
case "${1:-}" in
  --short | "") ;;
  --seconds) mode=(-max_total_time="${2:?--seconds needs a number}") ;;
  *) echo "usage: $0 [--short | --seconds N]" >&2; exit 2 ;;
esac

# cargo-fuzz from crates.io, pinned; libFuzzer needs the sanitizer-coverage flags of a
# nightly compiler, which RUSTC_BOOTSTRAP unlocks on the stable toolchain.
if ! cargo fuzz --version 2>/dev/null | grep -q '0.13.1'; then
  cargo install cargo-fuzz --version 0.13.1 --locked
fi
export RUSTC_BOOTSTRAP=1

status=0
for t in "flowfile decode" "records parse" "records landed"; do
  set -- $t
  echo "--- fuzz $1/$2 (${mode[*]})"
  if ! (cd "crates/$1/fuzz" && cargo fuzz run "$2" -- "${mode[@]}" -max_len=4096 > "/tmp/fuzz-$1-$2.log" 2>&1); then
    status=1
    grep -E 'panicked|SUMMARY|Reproduce|artifact' "/tmp/fuzz-$1-$2.log" || tail -40 "/tmp/fuzz-$1-$2.log"
  fi
  grep -E '^Done' "/tmp/fuzz-$1-$2.log" || true
done
exit "$status"
