#!/usr/bin/env python3
"""Writes tests/fixtures/http_buffers/post_body_and_cookie.pcap: two HTTP requests to a web
server on 10.88.0.2:80 from 10.88.0.1, each on a connection of its own (handshake, request,
response, close), byte-for-byte reproducible:

  1. a POST whose application/x-www-form-urlencoded body carries a URL-encoded UNION SELECT
     (the request line is clean);
  2. a GET whose Cookie header carries a quote-OR tautology (the request line is clean).

Usage: python3 tests/tools/make_http_buffers_capture.py [OUTPUT]
"""

import struct
import sys

CLIENT, SERVER = (10, 88, 0, 1), (10, 88, 0, 2)
MAC_C, MAC_S = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"

BODY = b"user=admin&pass=x%27+UNION+SELECT+username%2C+password+FROM+users--+"
POST = (
    b"POST /login.php HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(BODY)
    + BODY
)
COOKIE = (
    b"GET /account HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8.5.0\r\n"
    b"Accept: */*\r\nCookie: session=abc123; uid=1' OR '1'='1\r\n\r\n"
)
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def checksum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 64240, 0, 0)
    pseudo = struct.pack("!4B4BBBH", *src, *dst, 0, 6, len(tcp) + len(payload))
    csum = checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4B4B", 0x45, 0, total, 1, 0x4000, 64, 6, 0, *src, *dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    macs = (MAC_S + MAC_C) if src == CLIENT else (MAC_C + MAC_S)
    return macs + b"\x08\x00" + ip + tcp + payload


def connection(sport, request, t0):
    """Frames of one connection: (seconds, frame)."""
    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
    c, s = 1000, 5000
    out = []
    add = lambda *f: out.append((t0 + len(out) * 0.001, frame(*f)))
    add(CLIENT, SERVER, sport, 80, c, 0, SYN)
    add(SERVER, CLIENT, 80, sport, s, c + 1, SYN | ACK)
    add(CLIENT, SERVER, sport, 80, c + 1, s + 1, ACK)
    add(CLIENT, SERVER, sport, 80, c + 1, s + 1, PSH | ACK, request)
    c += 1 + len(request)
    add(SERVER, CLIENT, 80, sport, s + 1, c, PSH | ACK, OK)
    s += 1 + len(OK)
    add(CLIENT, SERVER, sport, 80, c, s, FIN | ACK)
    add(SERVER, CLIENT, 80, sport, s, c + 1, FIN | ACK)
    add(CLIENT, SERVER, sport, 80, c + 1, s + 1, ACK)
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/http_buffers/post_body_and_cookie.pcap"
    frames = connection(41000, POST, 1_700_000_000) + connection(41001, COOKIE, 1_700_000_001)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in frames:
            sec, usec = int(t), round((t - int(t)) * 1_000_000)
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
            f.write(data)


if __name__ == "__main__":
    main()
