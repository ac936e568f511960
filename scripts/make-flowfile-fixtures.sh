#!/usr/bin/env bash
# Remakes crates/flowfile/tests/fixtures/*.bin and manifest.json with NiFi's own FlowFile
# packagers: compiles FlowFilePackager, FlowFilePackagerV2 and FlowFilePackagerV3 from a clone of
# apache/nifi at rel/nifi-1.28.1 (the only NiFi jar source this machine can reach) together with
# MakeFixtures.java, and runs it. Needs a JDK (scripts/setup-java-clients.sh installs one).
#
#   scripts/make-flowfile-fixtures.sh /path/to/nifi-clone
set -euo pipefail
nifi=${1:?usage: $0 /path/to/apache-nifi-clone}
here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/crates/flowfile/tests/fixtures
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/org/apache/nifi/util" "$work/classes"
for class in FlowFilePackager FlowFilePackagerV2 FlowFilePackagerV3; do
  git -C "$nifi" show "rel/nifi-1.28.1:nifi-commons/nifi-flowfile-packager/src/main/java/org/apache/nifi/util/$class.java" \
    > "$work/src/org/apache/nifi/util/$class.java"
done
javac -d "$work/classes" "$work"/src/org/apache/nifi/util/*.java "$out/MakeFixtures.java"
java -cp "$work/classes" MakeFixtures "$out"
ls -l "$out"
