#!/usr/bin/env bash
# Pipeline throughput benchmark: `nsm-tui read` beside `tcpdump -r FILE -w /dev/null`, measured
# in the same run on the same files. Prints packets/s, MB/s and peak memory (max RSS) for each.
#
#   bash benches/pipeline.sh [PACKETS]   (default 1700000 generated packets)
#
# Files: the shared benchmark capture when it is there, and a generated capture of PACKETS
# packets (`nsm-tui generate`, seed 7: TCP sessions with HTTP payloads, DNS, UDP, ICMP, scans).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup test >/dev/null
cargo build --release --quiet
bin=./target/release/nsm-tui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packets=${1:-1700000}
gen=$work/generated_${packets}.pcap
"$bin" generate --packets "$packets" --seed 7 --attack-share 0.01 --out "$gen" >/dev/null
# The new file's write-back would otherwise compete with the first runs' database writes.
sync
files=("$gen")
shared=../shared/data/pcaps/benign/bench_mixed_merged_suricata-verify.pcap
[ -f "$shared" ] && files=("$shared" "$gen")

# measure LABEL FILE OUTPUTS CMD... : runs CMD 3 times, each on fresh outputs (OUTPUTS is a
# space-separated list of files deleted with their -wal/-shm before every run), and reports the
# best wall time and the peak RSS.
measure() {
  local label=$1 file=$2 outputs=$3; shift 3
  python3 - "$label" "$file" "$outputs" "$@" <<'PY'
import glob, os, resource, subprocess, sys, time
label, file, outputs, cmd = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
size = os.path.getsize(file)
out = subprocess.run(["tcpdump", "--count", "-r", file], capture_output=True, text=True).stdout
pkts = int(out.split()[0])
best = None
for _ in range(3):
    for out_file in outputs:
        for path in glob.glob(out_file + "*"):
            os.remove(path)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    dt = time.perf_counter() - t0
    best = dt if best is None else min(best, dt)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<44} {pkts:>9} pkts {best:7.3f}s {pkts/best:>12,.0f} pkt/s {size/best/1e6:8.1f} MB/s  peak {rss:6.1f} MB")
PY
}

for f in "${files[@]}"; do
  echo "== $(basename "$f") ($(du -h "$f" | cut -f1))"
  measure "tcpdump -r FILE -w /dev/null" "$f" "" tcpdump -r "$f" -w /dev/null
  measure "nsm-tui read --eve (flows, no packet rows)" "$f" "$work/eve.json $work/a.db" "$bin" read "$f" --eve "$work/eve.json" --no-packet-rows --db "$work/a.db" --no-pcap-log
  rm -f "$work"/eve.json "$work"/a.db*
  measure "nsm-tui read --eve --no-db" "$f" "$work/eve.json" "$bin" read "$f" --eve "$work/eve.json" --no-db --no-pcap-log
  rm -f "$work"/eve.json
  measure "nsm-tui read, every packet in SQLite" "$f" "$work/b.db" "$bin" read "$f" --db "$work/b.db" --no-pcap-log
  rm -f "$work"/b.db*
done
