#!/usr/bin/env bash
# How well the learning detectors (statistical, behavioural, Isolation Forest, DBSCAN host
# clusters) do on their own, and how well the Random Forest flow classifier does on captures
# it never saw.
#
#   bash benches/anomaly_eval.sh            # NSM_BIN=path/to/nsm-tui to use a built binary
#
# Ground truth (../shared/data/MANIFEST.tsv and tests/fixtures/labelled/README.md), one class
# per capture, from the directory and the manifest's ground-truth column:
#   attack:  the shared scans, brute force, floods, DNS tunnels and web attacks, the labelled
#            captures made with real tools (tests/fixtures/labelled/, benign_* excluded) and
#            the beacon and slow-upload captures (tests/fixtures/anomaly/); the manifest's
#            negative controls (ppa_telnet_single_login, http_dvwa_clearlogin) are benign;
#   benign:  the shared benign captures (bench_mixed_merged excluded: "mixed; not a detection
#            ground truth"), the labelled benign_* captures and generated benign traffic
#            (`nsm-tui generate --attack-share 0`).
# Anomaly detectors: learned (`nsm-tui learn`) on benign traffic only, never on the capture
# scored. The shared benign captures are split in two halves; each half is scored with the
# model learned on the other half plus a generated capture (seed 11); attack captures and a
# held-out generated capture (seed 12) with the model learned on all of them.
# Random Forest: classes port_scan, brute_force, flood, dns_tunnel, web_attack, benign; the
# captures (shared and labelled, and the generated benign one of seed 11: the shared benign
# captures hold few flows) are cut into 5 folds by capture, class by class; each capture is
# read with the classifier trained on the other folds (the captures in no fold with the one
# trained on all), and `nsm-tui train --folds 5 --fold-by capture` reports the flow-level
# scores per class and the accuracy.
# Prints per category: attack captures flagged (recall over captures) at any severity and
# above Low, alerts on attack and on benign captures (precision = share of a category's alerts
# on attack captures), false alerts above Low per 10,000 benign flows; then the same recall and
# false alerts per detector (statistical, behavioural, Isolation Forest, DBSCAN, classifier),
# for the anomaly detectors together with and without `new_talker`, and the totals the targets
# are held to. ANOMALY_EVAL_CLASSIFIER=FILE also writes each classifier alert (capture kind,
# capture, category, severity, probability, margin over benign, flows) to FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup build >/dev/null
if [ -z "${NSM_BIN:-}" ]; then
  cargo build --release --quiet
fi
bin=${NSM_BIN:-$PWD/target/release/nsm-tui}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" generate --attack-share 0 --packets 200000 --seed 11 --out "$work/gen_benign_learn.pcap" >/dev/null
"$bin" generate --attack-share 0 --packets 200000 --seed 12 --out "$work/gen_benign_test.pcap" >/dev/null
python3 benches/anomaly_eval.py "$bin" "$work"
