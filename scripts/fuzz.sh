#!/usr/bin/env bash
# Fuzzes the decoders of untrusted input with cargo-fuzz (libFuzzer):
#   flowfile: decode   (FlowFile v3/v2 packages, whole and in chunks)
#   records:  parse    (JSON / NDJSON / CSV content, plain or through the capped gunzip)
#   records:  landed   (landed-file keys and lines)
#   server:   aws_chunked (S3 PutObject bodies framed as aws-chunked, unsigned-trailer and
#             signed streaming, through s3s's request handling: SigV4, then its aws-chunked
#             decoder; fewer runs in --short, each is a whole request; seeds in
#             crates/server/fuzz/seeds/, and its past find in regressions/ is re-run every
#             time). Built with `--dev --sanitizer none` (opt-level 1, coverage guidance
#             kept, no AddressSanitizer: the code is safe Rust) and without the server crate,
#             so its cold build fits CI: ~160 s of CPU where the release+ASan build of the
#             whole front door took ~27 min on the busy box. The whole-front-door variant,
#             s3_front, runs by hand: cd crates/server/fuzz && cargo fuzz run --features
#             front s3_front seeds/aws_chunked. Its first find (a cut body taken as an
#             empty object) is fixed and kept as a test in
#             crates/snowstream/tests/it/s3/wire.rs.
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
# crate, target, and optionally --short's cap on runs (each aws_chunked input is a whole
# signed request) and cargo-fuzz build options (comma-separated).
targets=("flowfile decode" "records parse" "records landed" "server aws_chunked 20000 --dev,--sanitizer=none")
for t in "${targets[@]}"; do
  set -- $t
  run=("${mode[@]}")
  # A target may cap --short's runs (its third word).
  if [[ -n "${3:-}" && "${run[0]}" == -runs=* ]]; then run[0]="-runs=$3"; fi
  build=()
  if [[ -n "${4:-}" ]]; then IFS=, read -r -a build <<< "$4"; fi
  # Seed inputs kept in the repo (crates/*/fuzz/seeds/TARGET) join the working corpus, and
  # past crash inputs (crates/*/fuzz/regressions/TARGET) are run again.
  corpus=()
  if [[ -d "crates/$1/fuzz/seeds/$2" ]]; then
    mkdir -p "crates/$1/fuzz/corpus/$2"
    corpus=("corpus/$2" "seeds/$2")
  fi
  if [[ -d "crates/$1/fuzz/regressions/$2" ]]; then corpus+=("regressions/$2"); fi
  echo "--- fuzz $1/$2 (${build[*]} ${run[*]})"
  t0=$(date +%s)
  if ! (cd "crates/$1/fuzz" && cargo fuzz run "${build[@]}" "$2" "${corpus[@]}" -- "${run[@]}" -max_len=4096 > "/tmp/fuzz-$1-$2.log" 2>&1); then
    status=1
    grep -E 'panicked|SUMMARY|Reproduce|artifact' "/tmp/fuzz-$1-$2.log" || tail -40 "/tmp/fuzz-$1-$2.log"
  fi
  grep -E '^Done' "/tmp/fuzz-$1-$2.log" || true
  echo "    build + run: $(( $(date +%s) - t0 ))s"
done
exit "$status"
