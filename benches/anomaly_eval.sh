#!/usr/bin/env bash
# How well the learning detectors (statistical, behavioural, Isolation Forest) do on their own:
# learn on benign traffic, then read attack and benign captures with that model and count.
#
#   bash benches/anomaly_eval.sh
#
# Learns on the shared benign captures (../shared/data/pcaps/benign/) and a generated benign
# capture (`nsm-tui generate --attack-share 0`, seed 11). Tests on:
#   attacks: the shared scans, brute force, floods, DNS tunnels and web attacks, the labelled
#            captures made with real tools (tests/fixtures/labelled/, benign_* excluded) and
#            the beacon and slow-upload captures (tests/fixtures/anomaly/);
#   benign:  the same shared benign captures and a held-out generated benign capture (seed 12).
# Prints per category: attack captures flagged (recall over captures), alerts on attack and on
# benign captures (precision = share of a category's alerts that fell on attack captures), and
# false alerts per 10,000 benign flows; then the totals the targets are held to.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup build >/dev/null
# NSM_BIN: an nsm-tui binary already built (a quick look with the debug build).
if [ -z "${NSM_BIN:-}" ]; then
  cargo build --release --quiet
fi
bin=${NSM_BIN:-$PWD/target/release/nsm-tui}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" generate --attack-share 0 --packets 200000 --seed 11 --out "$work/gen_benign_learn.pcap" >/dev/null
"$bin" generate --attack-share 0 --packets 200000 --seed 12 --out "$work/gen_benign_test.pcap" >/dev/null
python3 - "$bin" "$work" <<'PY'
import collections, glob, json, os, subprocess, sys
bin, work = sys.argv[1], sys.argv[2]
shared = "../shared/data/pcaps"
benign = sorted(glob.glob(f"{shared}/benign/*.pcap*") + glob.glob(f"{shared}/benign/*.cap"))
model = f"{work}/model.json"
subprocess.run([bin, "learn", *benign, f"{work}/gen_benign_learn.pcap", "--out", model],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
attacks = []
for d in ["scans", "bruteforce", "ddos", "dns_tunnel", "web_attacks"]:
    attacks += sorted(glob.glob(f"{shared}/{d}/*.pcap*"))
attacks += sorted(p for p in glob.glob("tests/fixtures/labelled/*.pcap") if "/benign_" not in p)
attacks += sorted(glob.glob("tests/fixtures/anomaly/*.pcap"))
tests = [(p, "attack") for p in attacks] + [(p, "benign") for p in benign + [f"{work}/gen_benign_test.pcap"]]
LEARNING = {"statistical", "behavioural", "ml"}
flagged = collections.defaultdict(set)       # category -> attack captures flagged
alerts = collections.defaultdict(lambda: [0, 0])  # category -> [on attack, on benign]
loud_benign = collections.Counter()          # category -> benign alerts above Low
benign_flows = 0
any_flagged = set()
for path, kind in tests:
    eve = f"{work}/eve.json"
    if os.path.exists(eve):
        os.remove(eve)
    subprocess.run([bin, "read", path, "--no-db", "--model", model, "--eve", eve],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for line in open(eve):
        e = json.loads(line)
        if e["event_type"] == "flow" and kind == "benign":
            benign_flows += 1
        if e["event_type"] != "alert":
            continue
        if e["alert"]["metadata"]["detector"][0] not in LEARNING:
            continue
        cat = e["alert"]["category"]
        if kind == "attack":
            alerts[cat][0] += 1
            flagged[cat].add(path)
            any_flagged.add(path)
        else:
            alerts[cat][1] += 1
            if e["alert"]["severity"] < 4:
                loud_benign[cat] += 1
print(f"learned on {len(benign) + 1} benign captures; tested on {len(attacks)} attack captures "
      f"and {len(benign) + 1} benign captures ({benign_flows} benign flows)\n")
print(f"| category | attack captures flagged | alerts on attacks | alerts on benign | precision | false alerts / 10k benign flows (above Low) |")
print("|---|---|---|---|---|---|")
for cat in sorted(set(alerts) | set(flagged)):
    a, b = alerts[cat]
    prec = a / (a + b) if a + b else 0.0
    per10k = 1e4 * b / max(benign_flows, 1)
    loud = 1e4 * loud_benign[cat] / max(benign_flows, 1)
    print(f"| `{cat}` | {len(flagged[cat])} of {len(attacks)} | {a} | {b} | {prec:.2f} | {per10k:.2f} ({loud:.2f}) |")
total_loud = sum(loud_benign.values())
print(f"\nattack captures flagged by any learning detector: {len(any_flagged)} of {len(attacks)} "
      f"({100 * len(any_flagged) / max(len(attacks), 1):.0f}%; target at least 80%)")
print(f"false alerts above Low on benign traffic: {total_loud} in {benign_flows} flows = "
      f"{1e4 * total_loud / max(benign_flows, 1):.2f} per 10,000 flows (target at most 1)")
missed = sorted(set(attacks) - any_flagged)
if missed:
    print("not flagged: " + ", ".join(os.path.basename(m) for m in missed))
PY
