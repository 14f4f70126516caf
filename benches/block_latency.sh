#!/usr/bin/env bash
# Packet-to-block latency: the time from the packet that completes a port scan to the attacker's
# address being live in the nftables set, for `nsm-tui --headless` capturing on a veth in a
# network namespace (automatic response on, nftables, not a dry run). Beside it, in the same run
# and namespace, the floor any blocker pays: one bare `nft add element` into a set with timeouts.
# Needs root, iproute2, nftables and nmap; it makes its own namespaces and deletes them.
#
#   sudo bash benches/block_latency.sh [RUNS]   (default 10 scans, one nsm-tui run each)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "block_latency: needs root (network namespaces, nftables)" >&2; exit 1; }
bash .ci/setup test >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/nsm-tui
runs=${1:-10}
work=$(mktemp -d)
v=nsmb-v-$$ a=nsmb-a-$$
cleanup() { ip netns del "$v" 2>/dev/null || true; ip netns del "$a" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$v"; ip netns add "$a"
ip link add nsmb0 netns "$a" type veth peer name nsmb1 netns "$v"
ip -n "$a" addr add 198.51.100.2/24 dev nsmb0; ip -n "$v" addr add 198.51.100.1/24 dev nsmb1
for ns in "$a" "$v"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set nsmb0 up; ip -n "$v" link set nsmb1 up
cat > "$work/auto.toml" <<'TOML'
[sniffer]
immediate_mode = true

[response]
auto_response_enabled = true
dry_run = false
response_threshold = 0.5
policy = ["port_scan:Medium:block:30"]
TOML

ms=()
for i in $(seq "$runs"); do
  rm -f "$work"/auto.db* "$work/err"
  env -u DRY_RUN -u SSH_CONNECTION -u SSH_CLIENT ip netns exec "$v" "$bin" --headless \
    --config "$work/auto.toml" --db "$work/auto.db" -i nsmb1 --no-pcap-log --duration 20 \
    2>"$work/err" >/dev/null &
  pid=$!
  for _ in $(seq 200); do grep -q "^capturing on" "$work/err" 2>/dev/null && break; sleep 0.05; done
  ip netns exec "$a" nmap -n -Pn -sS -T5 --max-retries 0 -p 1-200 198.51.100.1 >/dev/null
  for _ in $(seq 100); do grep -q "after the triggering packet" "$work/err" && break; sleep 0.05; done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  v_ms=$(grep -o "[0-9.]* ms after the triggering packet" "$work/err" | head -1 | cut -d' ' -f1)
  [ -n "$v_ms" ] || { echo "run $i: no block reported:" >&2; cat "$work/err" >&2; exit 1; }
  ms+=("$v_ms")
done

# The peer: one bare nft element insertion, timed the same number of times.
ip netns exec "$v" nft add table inet nsmb_peer
ip netns exec "$v" nft add set inet nsmb_peer s '{ type ipv4_addr; flags timeout; }'
peer=()
for i in $(seq "$runs"); do
  t0=$(date +%s%N)
  ip netns exec "$v" nft add element inet nsmb_peer s "{ 192.0.2.$i timeout 30s }"
  t1=$(date +%s%N)
  peer+=("$(( (t1 - t0) / 1000 ))")
done

python3 - "${ms[*]}" "${peer[*]}" <<'PY'
import statistics, sys
ours = [float(x) for x in sys.argv[1].split()]
peer = [int(x) / 1000 for x in sys.argv[2].split()]
def line(label, v):
    print(f"{label:<52} median {statistics.median(v):7.1f} ms  min {min(v):7.1f}  max {max(v):7.1f}  (n={len(v)})")
line("nsm-tui: triggering packet -> address in the set", ours)
line("peer: one `nft add element` (process start included)", peer)
print(f"ratio (median): {statistics.median(ours) / statistics.median(peer):.1f}x the bare nft call; target < 100 ms")
PY
