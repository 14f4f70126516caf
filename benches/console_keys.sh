#!/usr/bin/env bash
# Console responsiveness under load: key-to-screen latency while `nsm-tui replay --fast` pushes
# packets through the pipeline as fast as it can (far above 200,000 packets/s on two cores),
# beside the same latency once the replay has finished (the idle console, measured in the same
# run). A key is `?` (help opens) then `Esc` (help closes); latency is the time until tmux shows
# the change, polled every 5 ms.
#
#   bash benches/console_keys.sh [PACKETS]   (default 3000000 generated packets)
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup test >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/nsm-tui
work=$(mktemp -d)
session=nsm-tui-keys-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
packets=${1:-3000000}
"$bin" generate --packets "$packets" --seed 11 --attack-share 0.01 --out "$work/load.pcap" >/dev/null

tmux new-session -d -s "$session" -x 160 -y 45 -c "$work" \
  "'$bin' replay load.pcap --fast --no-db --no-pcap-log; sleep 600"

python3 - "$session" "$packets" <<'PY'
import statistics, subprocess, sys, time
session, total = sys.argv[1], int(sys.argv[2])

def screen():
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True).stdout

def keys(*k):
    subprocess.run(["tmux", "send-keys", "-t", session, *k], check=True)

def total_pkts(s):
    """The status bar's `total N pkts` (N may read `12.3 k` or `1.2 M`)."""
    try:
        words = s.split("total ")[1].split()
        mult = {"k": 1e3, "M": 1e6, "G": 1e9}.get(words[1], 1)
        return int(float(words[0]) * mult)
    except (IndexError, ValueError):
        return None

def wait(pred, limit=10.0):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        s = screen()
        if pred(s):
            return time.perf_counter() - t0, s
        time.sleep(0.005)
    raise SystemExit("the console did not answer within %.0f s" % limit)

def probe():
    t1, _ = (keys("?"), wait(lambda s: "Help — ? or esc" in s))[1]
    t2, s = (keys("Escape"), wait(lambda s: "Help — ? or esc" not in s))[1]
    return t1, t2, s

wait(lambda s: "[REPLAY]" in s and (total_pkts(s) or 0) > 0, 60)
busy, seen = [], []
t_start, p_start = time.perf_counter(), total_pkts(screen()) or 0
while True:
    s = screen()
    if "[FINISHED]" in s or len(busy) >= 40:
        break
    t1, t2, s = probe()
    busy += [t1, t2]
    seen.append(total_pkts(s) or 0)
rate = (max(seen) - p_start) / (time.perf_counter() - t_start) if seen else 0
wait(lambda s: "[FINISHED]" in s, 600)
idle = []
for _ in range(20):
    t1, t2, _ = probe()
    idle += [t1, t2]
med = lambda v: statistics.median(v) * 1e3
p95 = lambda v: sorted(v)[int(len(v) * 0.95) - 1] * 1e3
print(f"console keys under load ({rate:,.0f} packets/s while measuring, {len(busy)} keys): "
      f"median {med(busy):.1f} ms, p95 {p95(busy):.1f} ms")
print(f"console keys idle (replay finished, {len(idle)} keys):                       "
      f"median {med(idle):.1f} ms, p95 {p95(idle):.1f} ms")
print(f"ratio under load / idle: median {med(busy) / med(idle):.2f}x, p95 {p95(busy) / p95(idle):.2f}x")
PY
