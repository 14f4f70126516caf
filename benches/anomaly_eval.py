"""Scores of the learning detectors and the flow classifier; run by benches/anomaly_eval.sh."""
import collections, csv, glob, json, os, subprocess, sys

bin, work = sys.argv[1], sys.argv[2]
shared = "../shared/data"
FOLDS = 5
CATEGORIES = ["anomaly_volume", "fan_out", "fan_in", "beaconing", "exfiltration", "new_talker",
              "unusual_port", "off_hours", "protocol_shift", "host_behaviour_change", "ml_outlier"]
LEARNING = {"statistical", "behavioural", "ml"}
LOW = 4  # EVE severity of Low

manifest = {}
with open(f"{shared}/MANIFEST.tsv") as f:
    for row in csv.DictReader(f, delimiter="\t"):
        manifest[row["path"]] = row["ground_truth"]

def truth(rel):
    """Class of a shared capture from its directory, negative controls benign."""
    g = manifest.get(rel, "")
    if g.startswith("NOT ") or g.startswith("no attack") or g.startswith("benign"):
        return "benign"
    d = rel.split("/")[1]
    return {"scans": "port_scan", "bruteforce": "brute_force", "ddos": "flood",
            "dns_tunnel": "dns_tunnel", "web_attacks": "web_attack"}.get(d)

captures = {}  # path -> class
for rel in sorted(manifest):
    if not rel.startswith("pcaps/") or rel.split("/")[1] not in (
            "benign", "scans", "bruteforce", "ddos", "dns_tunnel", "web_attacks"):
        continue
    if "mixed; not a detection ground truth" in manifest[rel]:
        continue
    if truth(rel) is not None:
        captures[f"{shared}/{rel}"] = truth(rel)
LABELLED = {"scan": "port_scan", "flood": "flood", "bruteforce": "brute_force",
            "dns": "dns_tunnel", "web": "web_attack", "benign": "benign"}
for p in sorted(glob.glob("tests/fixtures/labelled/*.pcap")):
    captures[p] = LABELLED[os.path.basename(p).split("_")[0]]
anomaly_fixtures = {p: os.path.basename(p)[:-5] for p in sorted(glob.glob("tests/fixtures/anomaly/*.pcap"))}
gen_learn, gen_test = f"{work}/gen_benign_learn.pcap", f"{work}/gen_benign_test.pcap"

def run(args):
    subprocess.run([bin, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

# Anomaly models: all benign, and two halves of the shared benign captures.
shared_benign = sorted(p for p, c in captures.items() if c == "benign" and p.startswith(shared))
halves = [shared_benign[0::2], shared_benign[1::2]]
def learn(name, files):
    out = f"{work}/{name}.json"
    run(["learn", *files, gen_learn, "--out", out])
    return out
model_all = learn("model_all", shared_benign)
model_half = [learn("model_h0", halves[0]), learn("model_h1", halves[1])]
model_for = {p: model_half[1 - h] for h in (0, 1) for p in halves[h]}

# Classifier folds by capture, class by class.
rf = {p: c for p, c in captures.items()}
per_class = collections.Counter(rf.values())
rf = {p: c for p, c in rf.items() if per_class[c] >= 2}
rf[gen_learn] = "benign"  # the shared benign captures hold few flows (about 150)
order = sorted(rf, key=lambda p: (rf[p], p))
fold_of = {p: i % FOLDS for i, p in enumerate(order)}
labels = f"{work}/labels.tsv"
with open(labels, "w") as f:
    for p, c in rf.items():
        if c != "benign":
            f.write(f"{p}\t{c}\n")
configs = []  # fold k: trained on the other folds; the last: on every fold, for the rest
for k in range(FOLDS + 1):
    out = f"{work}/classifier{k}.json"
    run(["train", "--labels", labels, "--folds", "0", "--out", out,
         *[p for p in order if fold_of[p] != k]])
    cfg = f"{work}/fold{k}.toml"
    with open(cfg, "w") as f:
        f.write(f'[detector]\nclassifier_file = "{out}"\n')
    configs.append(cfg)

attacks = [p for p, c in captures.items() if c != "benign"] + list(anomaly_fixtures)
benign = [p for p, c in captures.items() if c == "benign"] + [gen_test]

def detector(cat):
    """Which detector raises a category; the classifier apart from the other ml detectors."""
    if cat.startswith("ml_classified:"):
        return "classifier"
    return {"anomaly_volume": "statistical", "fan_out": "statistical", "fan_in": "statistical",
            "protocol_shift": "statistical", "exfiltration": "statistical",
            "beaconing": "behavioural", "new_talker": "behavioural", "unusual_port": "behavioural",
            "off_hours": "behavioural", "host_behaviour_change": "ml (DBSCAN)",
            "ml_outlier": "ml (Isolation Forest)"}.get(cat, "other")
DETECTORS = ["statistical", "behavioural", "ml (Isolation Forest)", "ml (DBSCAN)", "classifier"]

flagged = collections.defaultdict(set)        # category -> attack captures flagged
flagged_loud = collections.defaultdict(set)   # category -> attack captures flagged above Low
alerts = collections.defaultdict(lambda: [0, 0])
loud_benign = collections.Counter()           # category -> benign alerts above Low
loud_where = collections.Counter()            # (benign capture, category) -> those alerts
classifier_seen = []                          # (kind, capture, class, severity, probability, margin, flows)
benign_flows = 0
for path in attacks + benign:
    kind = "attack" if path in attacks else "benign"
    model = model_for.get(path, model_all)
    eve = f"{work}/eve.json"
    if os.path.exists(eve):
        os.remove(eve)
    run(["--config", configs[fold_of.get(path, FOLDS)], "read", path, "--no-db", "--no-pcap-log",
         "--model", model, "--eve", eve])
    for line in open(eve):
        e = json.loads(line)
        if e["event_type"] == "flow" and kind == "benign":
            benign_flows += 1
        if e["event_type"] != "alert" or e["alert"]["metadata"]["detector"][0] not in LEARNING:
            continue
        cat = e["alert"]["category"]
        loud = e["alert"]["severity"] < LOW
        if cat.startswith("ml_classified:"):
            m = e["alert"]["metadata"]
            classifier_seen.append((kind, path, cat, e["alert"]["severity"], m.get("probability", [0])[0],
                                    m.get("margin", [0])[0], m.get("flows", [0])[0]))
        if kind == "attack":
            alerts[cat][0] += 1
            flagged[cat].add(path)
            if loud:
                flagged_loud[cat].add(path)
        else:
            alerts[cat][1] += 1
            if loud:
                loud_benign[cat] += 1
                loud_where[(path.replace(work + "/", "").replace(shared + "/", ""), cat)] += 1

def union(sets, cats):
    out = set()
    for c in cats:
        out |= sets[c]
    return out

def pct(n, d):
    return f"{n} of {d} ({100 * n / max(d, 1):.0f}%)"

n_att = len(attacks)
per10k = lambda n: f"{1e4 * n / max(benign_flows, 1):.2f}"
print(f"anomaly models learned on benign captures only ({len(shared_benign)} shared benign captures "
      f"in two halves, plus a generated one); tested on {n_att} attack captures and {len(benign)} "
      f"benign captures ({benign_flows} benign flows)\n")
print("| category | detector | attack captures flagged | of them above Low | alerts on attacks | alerts on benign | precision | false alerts above Low / 10k benign flows |")
print("|---|---|---|---|---|---|---|---|")
rows = CATEGORIES + sorted(c for c in set(alerts) | set(flagged) if c not in CATEGORIES)
for cat in rows:
    a, b = alerts[cat]
    prec = f"{a / (a + b):.2f}" if a + b else "-"
    print(f"| `{cat}` | {detector(cat)} | {len(flagged[cat])} of {n_att} | {len(flagged_loud[cat])} | {a:,} | {b:,} | "
          f"{prec} | {per10k(loud_benign[cat])} |")

print("\n| detector | attack captures flagged | flagged above Low | false alerts above Low / 10k benign flows |")
print("|---|---|---|---|")
all_cats = set(rows)
for d in DETECTORS:
    cats = [c for c in all_cats if detector(c) == d]
    print(f"| {d} | {pct(len(union(flagged, cats)), n_att)} | {pct(len(union(flagged_loud, cats)), n_att)} | "
          f"{per10k(sum(loud_benign[c] for c in cats))} |")
anomaly = [c for c in all_cats if detector(c) != "classifier"]
groups = [("anomaly detectors", anomaly),
          ("anomaly detectors without `new_talker`", [c for c in anomaly if c != "new_talker"]),
          ("anomaly detectors and classifier", sorted(all_cats))]
for name, cats in groups:
    print(f"| {name} | {pct(len(union(flagged, cats)), n_att)} | {pct(len(union(flagged_loud, cats)), n_att)} | "
          f"{per10k(sum(loud_benign[c] for c in cats))} |")

anomaly_any, anomaly_loud = union(flagged, anomaly), union(flagged_loud, anomaly)
print(f"\nattack captures flagged by the anomaly detectors alone: {pct(len(anomaly_any), n_att)} at any "
      f"severity, {pct(len(anomaly_loud), n_att)} above Low (target at least 80%)")
print(f"false alerts above Low on benign traffic: anomaly detectors {sum(loud_benign[c] for c in anomaly)} "
      f"in {benign_flows} flows = {per10k(sum(loud_benign[c] for c in anomaly))} per 10,000; classifier "
      f"{per10k(sum(v for c, v in loud_benign.items() if detector(c) == 'classifier'))} (target at most 1 each)")
for (p, cat), n in sorted(loud_where.items()):
    print(f"above Low on benign: {p}: {n} {cat}")
for m in sorted(set(attacks) - anomaly_any):
    print(f"not flagged by the anomaly detectors: {m.replace(shared + '/', '')} ({captures.get(m, anomaly_fixtures.get(m))})")
for m in sorted(anomaly_any - anomaly_loud):
    print(f"flagged by the anomaly detectors at Low only: {m.replace(shared + '/', '')} ({captures.get(m, anomaly_fixtures.get(m))})")
if os.environ.get("ANOMALY_EVAL_CLASSIFIER"):
    with open(os.environ["ANOMALY_EVAL_CLASSIFIER"], "w") as f:
        for row in classifier_seen:
            f.write("\t".join(str(v).replace(work + "/", "").replace(shared + "/", "") for v in row) + "\n")

print(f"\nRandom Forest, {len(rf)} captures ({', '.join(f'{c} {n}' for c, n in sorted(collections.Counter(rf.values()).items()))}):")
out = subprocess.run([bin, "train", "--labels", labels, "--folds", str(FOLDS), "--fold-by", "capture",
                      "--out", f"{work}/classifier_all.json", *order],
                     check=True, capture_output=True, text=True).stdout
print(out.rstrip())
