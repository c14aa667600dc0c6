#!/usr/bin/env python3
"""Test listeners and probes of the firewall scenario (stdlib only, runs in the containers).

Servers:  fwtest-probe serve-tcp PORT   accept TCP and answer "fwtest PORT"
          fwtest-probe serve-udp PORT   echo every UDP datagram back
Client:   fwtest-probe tcp HOST PORT    exit 0 and print the banner when a TCP connection opens
          fwtest-probe udp HOST PORT    exit 0 when a datagram comes back (an echo)
          fwtest-probe tls HOST PORT    exit 0 when a TLS handshake completes
Exit 1 with the reason on stderr when the port does not answer within --timeout seconds.
"""

import argparse
import os
import socket
import ssl
import sys


def serve_tcp(port: int) -> None:
    server = socket.create_server(("::", port), family=socket.AF_INET6, dualstack_ipv6=True)
    while True:
        conn, _ = server.accept()
        with conn:
            conn.sendall(f"fwtest {port}\n".encode())


def serve_udp(port: int) -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", port))
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


def probe_tcp(host: str, port: int, timeout: float) -> str:
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.settimeout(timeout)
        try:
            return conn.recv(64).decode(errors="replace").strip() or "connected"
        except TimeoutError:
            return "connected (no banner)"


def probe_udp(host: str, port: int, timeout: float) -> str:
    nonce = os.urandom(8).hex().encode()
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(nonce, address)
        data, _ = sock.recvfrom(2048)
    if data != nonce:
        raise OSError(f"unexpected reply {data!r}")
    return "echo"


def probe_tls(host: str, port: int, timeout: float) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed test certificate; reachability is the point
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return f"{tls.version()} {tls.cipher()[0]}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["serve-tcp", "serve-udp", "tcp", "udp", "tls"])
    parser.add_argument("args", nargs="+")
    parser.add_argument("--timeout", type=float, default=2.0)
    opts = parser.parse_args()
    if opts.action == "serve-tcp":
        serve_tcp(int(opts.args[0]))
    if opts.action == "serve-udp":
        serve_udp(int(opts.args[0]))
    host, port = opts.args[0], int(opts.args[1])
    probe = {"tcp": probe_tcp, "udp": probe_udp, "tls": probe_tls}[opts.action]
    try:
        print(probe(host, port, opts.timeout))
    except (OSError, ssl.SSLError) as exc:
        print(f"{opts.action} {host}:{port}: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
