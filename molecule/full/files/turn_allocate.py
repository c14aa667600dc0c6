"""One TURN Allocate over TLS with TURN REST credentials, standard library only.

    python3 turn_allocate.py HOST PORT SECRET CA_FILE

Connects to HOST:PORT over TLS, verifying the certificate against CA_FILE for the
name HOST (as a browser does for `turns:`), then allocates a UDP relay with the
credentials Talk derives from SECRET: username `<expiry>:<id>`, password
base64(HMAC-SHA1(secret, username)) (the TURN REST scheme: coturn README.turnserver,
--use-auth-secret; RFC 5766 / RFC 5389 long-term credentials). Prints one JSON line; exit 0
with the relayed address, 1 with the error TURN answered, 2 when TLS or the connection failed.

Used where turnutils_uclient's TLS mode is not reliable enough to test with: its
TLS client picks a random protocol version per connection and can hang in
SSL_connect against coturn 4.6.1 with OpenSSL 3.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import sys
import time

MAGIC = 0x2112A442
ALLOCATE, ALLOCATE_OK, ALLOCATE_ERROR = 0x0003, 0x0103, 0x0113
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE = 0x0006, 0x0008, 0x0009
REALM, NONCE, XOR_RELAYED_ADDRESS, REQUESTED_TRANSPORT = 0x0014, 0x0015, 0x0016, 0x0019


def attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def message(attributes: list[bytes], txid: bytes, key: bytes | None = None) -> bytes:
    body = b"".join(attributes)
    if key is not None:
        # MESSAGE-INTEGRITY covers the header with a length that already counts itself.
        header = struct.pack("!HHI12s", ALLOCATE, len(body) + 24, MAGIC, txid)
        body += attribute(MESSAGE_INTEGRITY, hmac.new(key, header + body, hashlib.sha1).digest())
    return struct.pack("!HHI12s", ALLOCATE, len(body), MAGIC, txid) + body


def read_exactly(sock: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def answer(sock: ssl.SSLSocket) -> tuple[int, dict[int, bytes]]:
    kind, length = struct.unpack("!HH", read_exactly(sock, 20)[:4])
    body = read_exactly(sock, length)
    found: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(body):
        code, size = struct.unpack("!HH", body[offset : offset + 4])
        found.setdefault(code, body[offset + 4 : offset + 4 + size])
        offset += 4 + size + (-size % 4)
    return kind, found


def error_of(found: dict[int, bytes]) -> str:
    raw = found.get(ERROR_CODE, b"\0\0\0\0")
    return f"{raw[2] * 100 + raw[3]} {raw[4:].decode(errors='replace')}".strip()


def main(host: str, port: int, secret: str, ca_file: str) -> int:
    username = f"{int(time.time()) + 300}:talkdeploy-full"
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), "sha1").digest())
    transport = attribute(REQUESTED_TRANSPORT, bytes([17, 0, 0, 0]))  # a UDP relay
    context = ssl.create_default_context(cafile=ca_file)
    try:
        raw = socket.create_connection((host, port), timeout=10)
        sock = context.wrap_socket(raw, server_hostname=host)
    except (OSError, ssl.SSLError) as error:
        print(json.dumps({"ok": False, "stage": "tls", "error": str(error)}))
        return 2
    with sock:
        sock.sendall(message([transport], os.urandom(12)))
        kind, found = answer(sock)
        if kind != ALLOCATE_ERROR or not error_of(found).startswith("401"):
            print(json.dumps({"ok": False, "stage": "challenge", "error": error_of(found)}))
            return 1
        realm, nonce = found[REALM], found[NONCE]
        key = hashlib.md5(username.encode() + b":" + realm + b":" + password).digest()  # noqa: S324
        request = [
            attribute(USERNAME, username.encode()),
            attribute(REALM, realm),
            attribute(NONCE, nonce),
            transport,
        ]
        sock.sendall(message(request, os.urandom(12), key))
        kind, found = answer(sock)
        if kind != ALLOCATE_OK:
            print(json.dumps({"ok": False, "stage": "allocate", "error": error_of(found)}))
            return 1
        relayed = found[XOR_RELAYED_ADDRESS]
        relay_port = struct.unpack("!H", relayed[2:4])[0] ^ (MAGIC >> 16)
        relay_ip = socket.inet_ntoa(struct.pack("!I", struct.unpack("!I", relayed[4:8])[0] ^ MAGIC))
        print(
            json.dumps(
                {
                    "ok": True,
                    "tls": sock.version(),
                    "realm": realm.decode(),
                    "relayed": f"{relay_ip}:{relay_port}",
                }
            )
        )
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
