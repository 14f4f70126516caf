#!/usr/bin/env python3
"""Detection report: runs `nsm-tui read` over every capture in ../shared/data/pcaps/ that has a
ground truth in ../shared/data/MANIFEST.tsv, and prints per capture what fired (category, top
source) against what was expected, then the totals: detected, missed, and alerts above Low on
the benign captures.

The expected categories are read from the manifest's free-text `ground_truth` column by the
keyword rules in `expected()`; captures whose ground truth is only "must not crash" (the
malformed and link-type corpora) or "not a detection ground truth" are left out.

Usage: tests/tools/detection_report.py [--bin PATH] [--data DIR] [--verbose]
Exit status: 0 when the report ran (misses are reported, not fatal), 2 when it could not run.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys

CRATE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IPV4 = r"\b(\d{1,3}(?:\.\d{1,3}){3})\b"
# EVE severity: 1 = Critical ... 4 = Low.
LOW = 4


def expected(path, contents, truth):
    """('skip'|'benign'|'attack', [categories], expected source or None)."""
    t = truth.lower()
    if not t or "must not crash" in t or "not a detection ground truth" in t:
        return "skip", [], None
    if (t.startswith("benign") or "no attack" in t or "negative" in t
            or t.startswith("not brute force")):
        return "benign", [], None
    cats = []
    if "protocol scan" in t:
        cats.append("protocol_scan")
    elif "scan" in t:
        # "FIN+PSH+URG" describes an Xmas probe, not a FIN scan.
        for word, cat in (("xmas", "xmas_scan"), ("null", "null_scan"), ("fin(?!\\+)", "fin_scan")):
            if re.search(r"\b%s\b" % word, t):
                cats.append(cat)
        if not cats or re.search(r"\bsyn\b", t):
            cats.append("port_scan")
    elif "password_guessing" in t or "bruteforc" in t or "brute force" in t:
        cats.append("brute_force")
    elif "syn flood" in t:
        cats.append("syn_flood")
    elif "icmp flood" in t:
        cats.append("icmp_flood")
    elif "dhcp flood" in t:
        cats.append("dhcp_flood")
    elif "amplification" in t or "udp flood" in t:
        cats.append("udp_flood")
    elif "dns tunnel" in t:
        cats.append("dns_tunnel")
    elif "sqli" in t or "sql injection" in t:
        cats.append("SQL Injection")
    else:
        return "skip", [], None
    source = None
    m = re.search(r"from " + IPV4, truth) or re.search(IPV4 + r" appears", truth)
    m = m or re.search(r"\b(?:had|from)\b.*?" + IPV4, truth) or re.search(IPV4 + r"\s*->", contents)
    if m and "spoofed" not in t and "random" not in t:
        source = m.group(1)
    return "attack", cats, source


def run(binary, pcap):
    """Category -> (count, Counter of source addresses, worst EVE severity)."""
    out = subprocess.run(
        [binary, "read", pcap, "--eve", "-", "--no-db", "--no-pcap-log"],
        capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError("%s: nsm-tui exited %d: %s" % (pcap, out.returncode, out.stderr[-500:]))
    got = {}
    for line in out.stdout.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("event_type") != "alert":
            continue
        a = e["alert"]
        cat = a.get("category", "?")
        count, sources, sev = got.get(cat, (0, collections.Counter(), LOW + 1))
        sources[e.get("src_ip", "?")] += 1
        got[cat] = (count + 1, sources, min(sev, a.get("severity", LOW)))
    return got


def describe(got):
    if not got:
        return "nothing"
    return ", ".join(
        "%s x%d (top src %s, sev %d)" % (c, n, s.most_common(1)[0][0], sev)
        for c, (n, s, sev) in sorted(got.items()))


def find_binary(given):
    if given:
        return given
    for profile in ("release", "debug"):
        p = os.path.join(CRATE, "target", profile, "nsm-tui")
        if os.access(p, os.X_OK):
            return p
    return None


def manifest(data):
    with open(os.path.join(data, "MANIFEST.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            if row.get("path", "").startswith("pcaps/"):
                yield row


def report(binary, data, verbose):
    totals = collections.Counter()
    misses = []
    for row in manifest(data):
        kind, cats, source = expected(row["path"], row.get("contents", ""), row.get("ground_truth", ""))
        pcap = os.path.join(data, row["path"])
        if kind == "skip" or not os.path.exists(pcap):
            continue
        got = run(binary, pcap)
        if kind == "benign":
            loud = {c: v for c, v in got.items() if v[2] < LOW}
            totals["benign"] += 1
            totals["benign_loud_captures"] += bool(loud)
            totals["benign_alerts_above_low"] += sum(v[0] for v in loud.values())
            verdict = "ok" if not loud else "NOISY"
            print("%-6s %-58s expected: benign | fired: %s" % (verdict, row["path"][6:], describe(got)))
            continue
        totals["attacks"] += 1
        fired = [c for c in cats if c in got]
        wrong_src = [c for c in fired if source and got[c][1].most_common(1)[0][0] != source]
        if len(fired) == len(cats) and not wrong_src:
            verdict = "ok"
            totals["detected"] += 1
        elif fired and not wrong_src:
            verdict = "PART"
            totals["partial"] += 1
        elif fired:
            verdict = "SRC"
            totals["wrong_source"] += 1
        else:
            verdict = "MISS"
            totals["missed"] += 1
        if verdict != "ok":
            misses.append(row["path"][6:])
        print("%-6s %-58s expected: %s from %s | fired: %s" % (
            verdict, row["path"][6:], "+".join(cats), source or "any", describe(got)))
        if verbose:
            print("       ground truth: %s" % row.get("ground_truth", ""))
    print()
    print("attack captures: %d, detected: %d, partly detected: %d, wrong source: %d, missed: %d" % (
        totals["attacks"], totals["detected"], totals["partial"], totals["wrong_source"],
        totals["missed"]))
    print("benign captures: %d, with alerts above Low: %d, alerts above Low: %d" % (
        totals["benign"], totals["benign_loud_captures"], totals["benign_alerts_above_low"]))
    if misses:
        print("not fully detected: %s" % ", ".join(misses))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="nsm-tui binary (default: target/release, then target/debug)")
    ap.add_argument("--data", default=os.path.join(CRATE, "..", "shared", "data"))
    ap.add_argument("--verbose", action="store_true", help="print each ground truth too")
    args = ap.parse_args()
    binary = find_binary(args.bin)
    if not binary:
        print("no nsm-tui binary: run cargo build first, or pass --bin", file=sys.stderr)
        return 2
    if not os.path.exists(os.path.join(args.data, "MANIFEST.tsv")):
        print("note: %s/MANIFEST.tsv is absent; nothing to report" % args.data, file=sys.stderr)
        return 0
    try:
        report(binary, args.data, args.verbose)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
