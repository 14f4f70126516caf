#!/usr/bin/env bash
# How long the Random Forest flow classifier takes to train on about 1,000,000 flows.
#
#   bash benches/train_speed.sh            # NSM_BIN=path/to/nsm-tui to use a built binary
#
# Generates two captures (`nsm-tui generate`): ordinary sessions (3,300,000 packets, about 6.6
# a flow) and a network under attack (`--profile attack`, 1,500,000 packets, about 3 a flow),
# labels the second `attack`, and runs `nsm-tui train --folds 0`; prints the flows read and the
# fit time `train` reports (50 trees), then the command's wall clock and peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NSM_BIN:-}" ]; then
  cargo build --release --quiet
fi
bin=${NSM_BIN:-$PWD/target/release/nsm-tui}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" generate --packets 3300000 --seed 21 --out "$work/mixed.pcap" >/dev/null
"$bin" generate --profile attack --packets 1500000 --seed 22 --out "$work/attack.pcap" >/dev/null
printf 'attack.pcap\tattack\n' >"$work/labels.tsv"
/usr/bin/time -f "wall clock %e s, peak memory %M KiB" \
  "$bin" train --folds 0 --labels "$work/labels.tsv" --out "$work/classifier.json" \
  "$work/mixed.pcap" "$work/attack.pcap"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
