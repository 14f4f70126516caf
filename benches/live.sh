#!/usr/bin/env bash
# Live capture benchmark: does `nsm-tui --headless` keep up where tcpdump does?
#
#   sudo bash benches/live.sh                 (30 s per rate)
#   sudo DURATION=10 bash benches/live.sh     (shorter runs)
#   sudo RATES="100000 top" bash benches/live.sh
#
# Two network namespaces joined by a veth pair. In the receiving one, `nsm-tui --headless`
# (release build, default settings: the full default detector set, pcap log on, no database
# unless said) and `tcpdump -w /dev/null` capture the same interface at the same time, while the
# sending one replays the shared benchmark capture with tcpreplay at each rate (pkt/s, or `top`
# for --topspeed). Then a second pass at 100k pkt/s stores every packet in SQLite (the database
# may fall behind and count its own drops; the kernel must not drop), and two bursts: an
# `nmap -sS` of 1,000 ports and a 4 s `ping -f`. Prints one table: packets sent, received,
# kernel drops and queue drops for nsm-tui and for tcpdump, measured in the same run.
# Needs root, tcpreplay, tcpdump, nmap, ping and iproute2; skips with a message otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
pcap=../shared/data/pcaps/benign/bench_mixed_merged_suricata-verify.pcap
if [ ! -f "$pcap" ]; then
  echo "skip: $pcap is absent"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "skip: needs root (network namespaces and capture)"
  exit 0
fi
for t in tcpreplay tcpdump nmap ping ip; do
  if ! command -v "$t" >/dev/null; then
    echo "skip: $t is not installed (bash .ci/setup test)"
    exit 0
  fi
done
duration=${DURATION:-30}
rates=${RATES:-50000 100000 200000 400000 top}
cargo build --release --quiet
bin=$PWD/target/release/nsm-tui

tag=nsmlive$$
tx=${tag}tx
rx=${tag}rx
work=$(mktemp -d)
# nsm-tui gives up root once the capture is open (`[sniffer] user`, `nobody` by default): its
# outputs go where that user can write.
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$tx" 2>/dev/null || true
  ip netns del "$rx" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$tx"
ip netns add "$rx"
ip -n "$tx" link add vtx mtu 9000 type veth peer name vrx netns "$rx"
ip -n "$rx" link set vrx mtu 9000
for ns in "$tx" "$rx"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$tx" addr add 10.201.0.1/24 dev vtx
ip -n "$rx" addr add 10.201.0.2/24 dev vrx
ip -n "$tx" link set vtx up
ip -n "$rx" link set vrx up
sleep 1

# wait_for FILE TEXT: until TEXT appears in FILE (at most 10 s).
wait_for() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  return 1
}

# run LABEL EXTRA_ARGS -- TRAFFIC_CMD...: both capturers on vrx, the traffic from the sending
# namespace, then SIGINT to both and one row of the table.
run() {
  local label=$1 extra=$2
  shift 3
  rm -rf "$work/out" && mkdir -p "$work/out" && chmod 1777 "$work/out"
  # shellcheck disable=SC2086
  ip netns exec "$rx" "$bin" --headless -i vrx --pcap-log "$work/out/live.pcap" $extra \
    >"$work/nsm.log" 2>&1 &
  local nsm=$!
  ip netns exec "$rx" tcpdump -i vrx -n -w /dev/null >"$work/tcpdump.log" 2>&1 &
  local tcpd=$!
  pids=("$nsm" "$tcpd")
  wait_for "$work/nsm.log" "capturing on"
  wait_for "$work/tcpdump.log" "listening on"
  sleep 1
  ip netns exec "$tx" "$@" >"$work/traffic.log" 2>&1 || true
  sleep 2
  kill -INT "$nsm" "$tcpd"
  wait "$nsm" || true
  wait "$tcpd" || true
  pids=()
  local sent
  sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$work/traffic.log" | head -1)
  [ -n "$sent" ] || sent=-
  local n_rx n_k n_q n_db t_rx t_k
  n_rx=$(sed -n 's/^packets: *\([0-9]*\).*/\1/p' "$work/nsm.log" | tail -1)
  read -r n_k n_q n_db < <(sed -n \
    's/.*drops: *kernel \([0-9]*\), interface [0-9]*, queue \([0-9]*\), database \([0-9]*\).*/\1 \2 \3/p' \
    "$work/nsm.log" | tail -1) || true
  t_rx=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$work/tcpdump.log")
  t_k=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/tcpdump.log")
  printf '%-22s %10s | %10s %9s %9s %9s | %10s %9s\n' "$label" "$sent" "${n_rx:-?}" "${n_k:-?}" \
    "${n_q:-?}" "${n_db:-?}" "${t_rx:-?}" "${t_k:-?}"
  if [ -z "$n_rx" ]; then
    tail -5 "$work/nsm.log" >&2
  fi
}

echo "== ${duration}s per rate; nsm-tui: $bin (defaults), tcpdump -w /dev/null, same link, same run"
printf '%-22s %10s | %10s %9s %9s %9s | %10s %9s\n' "traffic" "sent" "nsm rcvd" "kernel" \
  "queue" "database" "tcpd rcvd" "kernel"
for r in $rates; do
  if [ "$r" = top ]; then
    speed=(--topspeed)
    label="tcpreplay top speed"
  else
    speed=(--pps="$r")
    label="tcpreplay $r/s"
  fi
  run "$label" "--no-db" -- tcpreplay -i vtx "${speed[@]}" --loop=0 --duration="$duration" \
    --preload-pcap "$pcap"
done
run "tcpreplay 100000/s +db" "--db $work/out/live.db" -- tcpreplay -i vtx --pps=100000 \
  --loop=0 --duration="$duration" --preload-pcap "$pcap"
run "nmap -sS 1000 ports" "--no-db" -- nmap -n -Pn -sS -p 1-1000 10.201.0.2
run "ping -f 4s" "--no-db" -- ping -f -w 4 10.201.0.2
