#!/usr/bin/env bash
# Makes the attack-class captures in tests/fixtures/attack_classes/ with real tools between two
# network namespaces: nsmatk-a (attacker, 10.79.0.1) and nsmatk-v (victim, 10.79.0.2) joined by a
# veth pair. tcpdump records each capture on the victim's side of the veth. The namespaces are
# deleted on exit, whatever happens; running it again remakes every file.
#
# Needs root and: hping3 tcpdump dig (dnsutils) curl python3 nmap sshd (openssh-server) hydra,
# telnetd and inetd (inetutils-telnetd, inetutils-inetd), Xtigervnc and vncpasswd
# (tigervnc-standalone-server, tigervnc-tools).
# Usage: tests/tools/make_attack_class_captures.sh [OUT_DIR] [NAME...]
#   (default: tests/fixtures/attack_classes, every capture; with NAMEs, only those captures are
#   remade and README.md is left as it is)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../fixtures/attack_classes}
shift || true
ONLY=("$@")
A=nsmatk-a
V=nsmatk-v
A4=10.79.0.1
V4=10.79.0.2
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
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
    for ns in "$A" "$V"; do
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
    done
    in_a ip link set veth-a up
    in_v ip link set veth-v up
    sleep 1
    in_a ping -c 1 -W 2 "$V4" >/dev/null
}

start_bg() { # start_bg NS CMD...: run a server in namespace NS, remembered for cleanup
    local ns=$1
    shift
    ip netns exec "$ns" "$@" &
    PIDS+=("$!")
}

stop_bg() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

README_ROWS=()

# capture NAME SNAPLEN CATEGORY -- CMD...: record CMD's traffic into NAME.pcap.
capture() {
    local name=$1 snap=$2 category=$3
    shift 4
    if [ ${#ONLY[@]} -gt 0 ] && ! printf '%s\n' "${ONLY[@]}" | grep -qx "$name"; then
        return 0
    fi
    local raw="$WORK/$name.raw.pcap" out="$OUT/$name.pcap"
    in_v tcpdump -Z root -U -n -i veth-v -s "$snap" -w "$raw" 2>/dev/null &
    local tpid=$!
    sleep 1
    "$@" >"$WORK/$name.log" 2>&1 || true
    sleep 1
    stop_bg "$tpid"
    tcpdump -Z root -r "$raw" -c 3000 -w "$out" 2>/dev/null
    local n
    n=$(tcpdump -r "$out" -n 2>/dev/null | wc -l)
    echo "$name: $n packets, $(stat -c %s "$out") bytes" >&2
    local cmd="$*"
    cmd=${cmd//$WORK/\$WORK}
    cmd=$(echo "$cmd" | tr -s ' \n' ' ' | sed 's/|/\\|/g')
    README_ROWS+=("| \`$name.pcap\` | $n | $category | \`$cmd\` |")
}

dns_server() {
    cat >"$WORK/dns.py" <<'EOF'
# A tiny DNS responder: NXDOMAIN for every query.
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(512)
    end = 12
    while end < len(q) and q[end] != 0:
        end += q[end] + 1
    hdr = q[:2] + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00"
    s.sendto(hdr + q[12:end + 5], peer)
EOF
    start_bg "$V" python3 "$WORK/dns.py" "$V4"
}

http_401_server() {
    cat >"$WORK/http401.py" <<'EOF'
# A web server that refuses every login with 401.
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="admin"')
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer((sys.argv[1], 80), H).serve_forever()
EOF
    start_bg "$V" python3 "$WORK/http401.py" "$V4"
}

dns_answer_sender() {
    cat >"$WORK/answers.py" <<'EOF2'
# Sends DNS answers (QR=1, an A record) from port 53 to ports nobody asked from.
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
name = b"".join(bytes([len(l)]) + l for l in b"www.example.com".split(b".")) + b"\0"
for i in range(int(sys.argv[3])):
    hdr = struct.pack("!HHHHHH", 0x1000 + i, 0x8180, 1, 1, 0, 0)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([203, 0, 113, 7])
    s.sendto(hdr + name + struct.pack("!HH", 1, 1) + answer, (sys.argv[2], 33000 + i))
    time.sleep(0.2)
EOF2
}

SSHD_PID=
ssh_server() { # ssh_server MAX_AUTH_TRIES
    # An OpenSSH server with a host key of its own; no account matches the name tried, so every
    # password fails. The one started before is stopped first.
    [ -n "$SSHD_PID" ] && stop_bg "$SSHD_PID"
    mkdir -p /run/sshd
    [ -f "$WORK/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_ed25519"
    cat >"$WORK/sshd_config" <<EOF3
ListenAddress $V4
HostKey $WORK/host_ed25519
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
MaxAuthTries $1
PidFile none
EOF3
    start_bg "$V" /usr/sbin/sshd -D -f "$WORK/sshd_config"
    SSHD_PID=$!
    sleep 1
    printf '%s\n' 123456 password admin letmein qwerty dragon monkey abc123 \
        111111 sunshine master welcome shadow >"$WORK/passwords.txt"
}

telnet_server() {
    # inetutils telnetd started by inetutils-inetd (in the foreground) for each connection; its
    # login refuses every password ("Login incorrect"). Its prompt names the host: a UTS
    # namespace of its own names it `victim`.
    echo "telnet stream tcp nowait root /usr/sbin/telnetd telnetd" >"$WORK/inetd.conf"
    start_bg "$V" unshare --uts sh -c \
        "hostname victim && exec /usr/sbin/inetutils-inetd -d $WORK/inetd.conf"
    sleep 1
}

vnc_server() {
    # TigerVNC's standalone server with VNC authentication and a password hydra's list lacks:
    # each wrong response gets SecurityResult `failed` with a reason (RFB 3.8). No blacklist: by
    # default it makes hydra wait longer after every fifth failure.
    echo nsm-secret | vncpasswd -f >"$WORK/vncpasswd"
    chmod 600 "$WORK/vncpasswd"
    start_bg "$V" Xtigervnc :7 -rfbport 5900 -rfbauth "$WORK/vncpasswd" -SecurityTypes VncAuth \
        -interface "$V4" -geometry 320x200 -depth 16 -nolisten unix -BlacklistThreshold 1000
    sleep 2
}

attacks() {
    # hydra, one task: each connection carries several password attempts. Full frames: the
    # SSH inference follows the cleartext packets by their length fields. OpenSSH's default
    # MaxAuthTries (6) leaves five failure replies in one connection; with 3, two per
    # connection, so only their sum over connections reaches the threshold.
    ssh_server 6
    capture bruteforce_ssh_multi 0 brute_force -- \
        in_a hydra -t 1 -I -l admin -P "$WORK/passwords.txt" "ssh://$V4"
    ssh_server 3
    capture bruteforce_ssh_maxauth3 0 brute_force -- \
        in_a hydra -t 1 -I -l admin -P "$WORK/passwords.txt" "ssh://$V4"
    # hydra against a real telnetd: three passwords a connection, each refused in cleartext.
    telnet_server
    capture bruteforce_telnet 0 brute_force -- \
        in_a hydra -t 1 -I -l nsmtest -P "$WORK/passwords.txt" "telnet://$V4"
    vnc_server
    capture bruteforce_vnc 0 brute_force -- \
        in_a hydra -t 1 -I -P "$WORK/passwords.txt" "vnc://$V4"
    capture recon_icmp 96 recon_icmp -- \
        in_a bash -c "hping3 -q --icmp-ts -c 3 $V4; hping3 -q --icmp-addr -c 3 $V4; hping3 -q -1 -C 15 -c 3 $V4"
    capture backscatter_synack 64 backscatter -- \
        in_a timeout 5 hping3 -q -S -A --rand-source -p 80 -s 80 -k -i u2000 -c 400 "$V4"
    capture backscatter_rst 64 backscatter -- \
        in_a timeout 5 hping3 -q -R --rand-source -p 40000 -i u2000 -c 400 "$V4"
    capture syn_flood_spoofed 64 syn_flood -- \
        in_a timeout 5 hping3 -q -S --rand-source -p 80 -i u1000 -c 600 "$V4"
    # Nothing listens on port 22: every SYN is refused with a RST.
    capture refused_ssh 96 none -- \
        in_a hping3 -q -S -p 22 -s 41000 -i u200000 -c 15 "$V4"
    http_401_server
    dns_server
    sleep 1
    capture bruteforce_http_401 256 brute_force -- \
        in_a bash -c "for i in \$(seq 8); do curl -s -o /dev/null -u admin:guess\$i http://$V4/admin; done"

    capture dns_tunnel_lowvol 256 dns_tunnel -- \
        in_a bash -c "for i in \$(seq 12); do \
            dig @$V4 +tries=1 +time=1 \$(head -c 20 /dev/urandom | base32 | tr -d =).t.example A; \
            dig @$V4 +tries=1 +time=1 \$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n').h.example A; \
            done"

    # One open port (the 401 web server) and one closed (81): what nmap's OS detection wants.
    capture os_fingerprint 128 os_fingerprint -- \
        in_a nmap -n -Pn -O --max-retries 1 -p 80,81 "$V4"

    dns_answer_sender
    capture dns_unsolicited 128 dns_unsolicited -- \
        in_a python3 "$WORK/answers.py" "$A4" "$V4" 8
}

write_readme() {
    {
        echo "# Attack-class captures"
        echo
        echo "Made by \`tests/tools/make_attack_class_captures.sh\` with real tools between two network"
        echo "namespaces, \`nsmatk-a\` (attacker, $A4) and \`nsmatk-v\` (victim, $V4), joined by a veth"
        echo "pair; tcpdump recorded each on the victim's side. The commands ran in the attacker"
        echo "namespace; in the victim namespace a 12-line DNS responder answered NXDOMAIN and a web"
        echo "server answered every request with 401 (the open port nmap's OS detection needs; 81 was"
        echo "the closed one), and \`answers.py\` sent DNS answers (QR=1) from port 53 to ports that"
        echo "asked nothing; an OpenSSH server (MaxAuthTries 6, then 3) refused every password hydra"
        echo "tried, and so did an inetutils telnetd (started by inetutils-inetd) and TigerVNC's"
        echo "standalone server (VNC authentication). Ground truth"
        echo "(\`none\`: no brute_force alert):"
        echo "the category each capture must raise. \`--rand-source\` floods come from random"
        echo "addresses: the backscatter alerts must name the victim $V4, not a source."
        echo "\`tests/attack_classes.rs\` checks them."
        echo
        echo "| file | packets | ground truth | command |"
        echo "|---|---|---|---|"
        printf '%s\n' "${README_ROWS[@]}"
    } >"$OUT/README.md"
}

mkdir -p "$OUT"
setup
attacks
if [ ${#ONLY[@]} -eq 0 ]; then
    write_readme
else
    # Replace the rows of the captures remade; the table is the README's last part.
    for row in "${README_ROWS[@]}"; do
        name=$(echo "$row" | cut -d'`' -f2)
        grep -vF "| \`$name\` |" "$OUT/README.md" >"$WORK/README.md" || true
        echo "$row" >>"$WORK/README.md"
        cp "$WORK/README.md" "$OUT/README.md"
    done
fi
ls -l "$OUT" >&2
