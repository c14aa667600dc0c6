"""STUN and TURN probes against a coturn server, spoken through aioice.

What Nextcloud Talk's admin "test" button proves, and what it does not:
Talk builds `turn:`/`turns:` URLs with REST credentials (username
`<expiry>:<anything>`, password base64(HMAC-SHA1(secret, username))) and calls
the server fine when one relay candidate is gathered. These probes do the same
allocation over UDP, TCP and TLS, and add what an operator also needs to know:
a wrong secret is refused, and the relay refuses peers on internal networks
(an open relay into 127.0.0.1 or a cloud metadata address is a security hole).

aioice supplies every packet (STUN messages, transactions, retransmissions,
long-term credential handling); only the choice of requests is ours. The
lower-level protocol classes (TurnClientUdpProtocol / TurnClientTcpProtocol)
are used instead of `create_turn_endpoint` because CreatePermission needs the
raw TURN client and TLS needs our own SNI (the TURN domain, not the address
dialled). The UDP one comes through talkdeploy.probe.udp_client, which also
hears ICMP port unreachable.

The checks of one server run one after the other; an endpoint that gave no
answer to one of them is not dialled again by the next (EndpointMemo).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from talkdeploy.probe import Check

if TYPE_CHECKING:
    from aioice.turn import TurnClientTcpProtocol, TurnClientUdpProtocol

    TurnClient = TurnClientTcpProtocol | TurnClientUdpProtocol

# Peers a TURN relay must never reach (issue 7): loopback, a private network,
# the cloud metadata address, IPv6 loopback, and IPv4-mapped loopback
# (CVE-2026-27624: coturn < 4.9.0 lets ::ffff:127.0.0.1 bypass denied-peer-ip
# unless the mapped range is denied too; coturn advisory GHSA-j8mm-mpf8-gvjg).
DENIED_PEERS = ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "::ffff:127.0.0.1")

# Talk gives its admin test a 5-minute username (nextcloud/spreed
# src/components/AdminSettings/TurnServer.vue, testServer()).
CREDENTIAL_TTL = 300
USER_SUFFIX = "talkdeploy"


@dataclass(frozen=True)
class TurnTarget:
    """One TURN server as seen from where the probes run."""

    name: str  # inventory host name, for the report
    address: str  # what to dial (ansible_host or the name)
    public_name: str  # the TURN domain: SNI and certificate name for turns:
    port: int  # listening-port (turn: over UDP and TCP)
    tls_port: int | None  # tls-listening-port, None when TLS is off
    udp: bool = True
    tcp: bool = True
    tls: bool = False


def rest_credentials(
    secret: str, ttl: int = CREDENTIAL_TTL, now: float | None = None, user: str = USER_SUFFIX
) -> tuple[str, str]:
    """TURN REST API credentials, computed the way Talk (and coturn's use-auth-secret) do."""
    expiry = int(time.time() if now is None else now) + ttl
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def _resolve(address: str, port: int) -> str:
    """The first IPv4 (else IPv6) address of `address`; raises OSError with the DNS reason."""
    infos = socket.getaddrinfo(address, port, type=socket.SOCK_DGRAM)
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0])


async def _open(
    ip: str,
    port: int,
    transport: str,
    credentials: tuple[str, str] | None,
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> TurnClient:
    from aioice.turn import TurnClientTcpProtocol

    from talkdeploy.probe.udp_client import UdpTurnClient

    username, password = credentials if credentials else (None, None)
    loop = asyncio.get_running_loop()
    if transport == "udp":
        _, udp = await loop.create_datagram_endpoint(
            lambda: UdpTurnClient(
                (ip, port), username, password, lifetime=60, channel_refresh_time=500
            ),
            remote_addr=(ip, port),
        )
        return udp
    _, tcp = await loop.create_connection(
        lambda: TurnClientTcpProtocol(
            (ip, port), username, password, lifetime=60, channel_refresh_time=500
        ),
        host=ip,
        port=port,
        ssl=ssl_context,
        server_hostname=server_hostname if ssl_context else None,
    )
    return tcp


async def _close(client: TurnClient, allocated: bool) -> None:
    if allocated:
        await client.delete()  # frees the allocation and closes the transport
    else:
        client.transport.close()


async def stun_binding(ip: str, port: int) -> tuple[str, int]:
    """A STUN Binding request over UDP; returns the reflexive (mapped) address."""
    from aioice import stun

    client = await _open(ip, port, "udp", None)
    try:
        request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
        response, _ = await client.request(request)
        mapped: tuple[str, int] = response.attributes["XOR-MAPPED-ADDRESS"]
        return mapped
    finally:
        await _close(client, allocated=False)


async def allocate(
    ip: str,
    port: int,
    transport: str,
    credentials: tuple[str, str],
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    peers: Iterable[str] = (),
) -> dict[str, Any]:
    """Allocate a relay; then ask CreatePermission for each peer.

    Returns {"relayed": (ip, port), "certificate_days": float | None,
    "permissions": {peer: None (granted) | "<code> <reason>" (refused)},
    "permission_seconds": {peer: seconds that peer's CreatePermission took}}.
    """
    from aioice import stun

    client = await _open(ip, port, transport, credentials, ssl_context, server_hostname)
    allocated = False
    try:
        relayed = await client.connect()
        allocated = True
        result: dict[str, Any] = {
            "relayed": relayed,
            "certificate_days": None,
            "permissions": {},
            "permission_seconds": {},
        }
        ssl_object = client.transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            cert = ssl_object.getpeercert()
            if cert and "notAfter" in cert:
                expires = ssl.cert_time_to_seconds(cert["notAfter"])
                result["certificate_days"] = round((expires - time.time()) / 86400, 1)
        for peer in peers:
            request = stun.Message(
                message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
            )
            request.attributes["XOR-PEER-ADDRESS"] = (peer, 9)
            asked = time.monotonic()
            try:
                await client.request_with_retry(request)
            except stun.TransactionFailed as refused:
                code, reason = refused.response.attributes.get("ERROR-CODE", (0, "error"))
                result["permissions"][peer] = f"{code} {reason}"
            else:
                result["permissions"][peer] = None
            result["permission_seconds"][peer] = round(time.monotonic() - asked, 3)
        return result
    finally:
        await _close(client, allocated)


def _describe(error: BaseException) -> str:
    from aioice import stun

    from talkdeploy.probe.udp_client import PortUnreachable

    if isinstance(error, TimeoutError | asyncio.TimeoutError | stun.TransactionTimeout):
        return "no answer (timed out): port filtered or server down"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate rejected: {error.verify_message}"
    if isinstance(error, PortUnreachable):
        return str(error)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    text = str(error) or type(error).__name__
    return text


Endpoint = tuple[str, int]  # ("udp" | "tcp", port): what a check dials; TLS travels over TCP


def _endpoint(transport: str, port: int) -> Endpoint:
    return ("udp" if transport == "udp" else "tcp", port)


def _no_answer(error: BaseException) -> bool:
    """Nothing answered: refused (TCP reset, ICMP port unreachable) or silent until the timeout."""
    from aioice import stun

    return isinstance(error, TimeoutError | ConnectionRefusedError | stun.TransactionTimeout)


def _an_answer(error: BaseException | None) -> bool:
    """The server spoke: success, a STUN error response, or a TLS handshake that went wrong."""
    from aioice import stun

    return error is None or isinstance(error, stun.TransactionFailed | ssl.SSLError)


@dataclass
class EndpointMemo:
    """What one server's checks, run one after the other, learnt about each of its endpoints.

    Once an endpoint did not answer a check, the later checks on it are not tried: each would
    only wait out its own timeout and STUN retransmissions to learn the same thing (with coturn
    down, verify took 8-16 s per check). The first contact keeps its whole timeout, so a lossy
    network still gets every retransmission aioice makes (RFC 8489 section 6.2.1). An endpoint
    that answered once is not written off by a later timeout: that failure is its own check's.
    """

    ip: str
    answered: set[Endpoint] = field(default_factory=set)
    silent: dict[Endpoint, tuple[str, str]] = field(default_factory=dict)  # (first check, reason)

    def learn(self, endpoint: Endpoint, check: str, error: BaseException | None) -> None:
        if _an_answer(error):
            self.answered.add(endpoint)
        elif error is not None and _no_answer(error) and endpoint not in self.answered:
            self.silent.setdefault(endpoint, (check, _describe(error)))

    def not_tried(self, endpoint: Endpoint) -> str | None:
        """Why a check on `endpoint` is not tried; None when it is worth trying."""
        if endpoint not in self.silent:
            return None
        check, reason = self.silent[endpoint]
        transport, port = endpoint
        return f'not tried: {transport} {self.ip}:{port} did not answer "{check}": {reason}'


Work = Callable[[], Awaitable[tuple[bool, str, dict[str, Any]]]]


@dataclass
class _ServerChecks:
    host: str
    memo: EndpointMemo
    timeout: float

    async def check(self, name: str, endpoint: Endpoint, work: Work) -> Check:
        """Run `work` within the timeout, unless `endpoint` is already known not to answer."""
        skip = self.memo.not_tried(endpoint)
        if skip:
            # Nothing is sent, so there is nothing to time: 0, and the detail says "not tried".
            return Check(self.host, name, False, 0.0, skip)
        started = time.monotonic()
        try:
            ok, detail, data = await asyncio.wait_for(work(), self.timeout)
        except Exception as error:  # every failure becomes a failed check with its reason
            self.memo.learn(endpoint, name, error)
            ok, detail, data = False, _describe(error), {}
        else:
            self.memo.learn(endpoint, name, None)
        return Check(self.host, name, ok, round(time.monotonic() - started, 3), detail, data)


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Certificate verification as a browser does it: system CAs (or `ca_file`), hostname check."""
    return ssl.create_default_context(cafile=ca_file)


async def probe_server(
    target: TurnTarget,
    secret: str,
    *,
    ca_file: str | None = None,
    timeout: float = 8.0,
    denied_peers: Iterable[str] = DENIED_PEERS,
) -> list[Check]:
    """Every outside check of one TURN server; each one a Check, failures included."""
    host = target.name
    started = time.monotonic()
    try:
        ip = await asyncio.get_running_loop().run_in_executor(
            None, _resolve, target.address, target.port
        )
    except OSError as error:
        return [
            Check(
                host,
                "resolve",
                False,
                round(time.monotonic() - started, 3),
                f"cannot resolve {target.address}: {error}",
            )
        ]
    creds = rest_credentials(secret)
    server = _ServerChecks(host, EndpointMemo(ip), timeout)
    checks: list[Check] = []

    async def binding() -> tuple[bool, str, dict[str, Any]]:
        mapped = await stun_binding(ip, target.port)
        return True, f"reflexive address {mapped[0]}:{mapped[1]}", {"mapped": list(mapped)}

    async def relay(transport: str) -> tuple[bool, str, dict[str, Any]]:
        got = await allocate(ip, target.port, transport, creds)
        relayed = got["relayed"]
        return True, f"relayed address {relayed[0]}:{relayed[1]}", {"relayed": list(relayed)}

    async def relay_tls(port: int) -> tuple[bool, str, dict[str, Any]]:
        got = await allocate(ip, port, "tls", creds, tls_context(ca_file), target.public_name)
        days = got["certificate_days"]
        relayed = got["relayed"]
        detail = f"relayed address {relayed[0]}:{relayed[1]}; certificate expires in {days} days"
        return True, detail, {"relayed": list(relayed), "certificate_days": days}

    async def wrong_secret(transport: str) -> tuple[bool, str, dict[str, Any]]:
        from aioice import stun

        wrong = rest_credentials(secret + "-wrong")
        try:
            got = await allocate(ip, target.port, transport, wrong)
        except stun.TransactionFailed as refused:
            code, reason = refused.response.attributes.get("ERROR-CODE", (0, "error"))
            return code == 401, f"refused ({code} {reason})", {}
        return False, f"ALLOCATED with a wrong secret: {got['relayed']}", {}

    if target.udp:
        checks.append(await server.check("stun binding (udp)", ("udp", target.port), binding))
    for transport in ("udp", "tcp"):
        if getattr(target, transport):

            async def run(transport: str = transport) -> tuple[bool, str, dict[str, Any]]:
                return await relay(transport)

            name = f"turn allocation ({transport})"
            checks.append(await server.check(name, _endpoint(transport, target.port), run))
    if target.tls and target.tls_port is not None:
        # Talk's `turns:` URL names listening-port (coturn also speaks TLS there); clients
        # configured by hand often use tls-listening-port. Both must work.
        for port in dict.fromkeys((target.port, target.tls_port)):

            async def run_tls(port: int = port) -> tuple[bool, str, dict[str, Any]]:
                return await relay_tls(port)

            name = f"turns allocation (tls :{port})"
            checks.append(await server.check(name, _endpoint("tls", port), run_tls))

    main_transport = "udp" if target.udp else "tcp"

    async def refused() -> tuple[bool, str, dict[str, Any]]:
        return await wrong_secret(main_transport)

    name = f"wrong secret refused ({main_transport})"
    checks.append(await server.check(name, _endpoint(main_transport, target.port), refused))
    checks.extend(
        await _denied_peer_checks(
            server, ip, target.port, main_transport, creds, tuple(denied_peers)
        )
    )
    return checks


async def _denied_peer_checks(
    server: _ServerChecks,
    ip: str,
    port: int,
    transport: str,
    creds: tuple[str, str],
    peers: tuple[str, ...],
) -> list[Check]:
    """One CreatePermission per denied peer on one allocation: each must be refused.

    Each check's seconds are its own CreatePermission's round trip(s), timed in `allocate`; the
    allocation they share is not counted in any of them."""
    host = server.host
    names = {peer: f"relay to {peer} refused" for peer in peers}
    endpoint = _endpoint(transport, port)
    skip = server.memo.not_tried(endpoint)
    if skip:
        # Nothing is sent, so there is nothing to time: 0, and the detail says "not tried".
        return [Check(host, name, False, 0.0, skip) for name in names.values()]
    started = time.monotonic()
    try:
        got = await asyncio.wait_for(
            allocate(ip, port, transport, creds, peers=peers), server.timeout * 2
        )
    except Exception as error:
        server.memo.learn(endpoint, "relay to denied peers", error)
        # No peer was judged: every check waited on this one failed attempt, and its time (not
        # a share of it) is what each shows; the detail says what failed.
        seconds = round(time.monotonic() - started, 3)
        return [
            Check(
                host, name, False, seconds, f"could not test: allocation failed: {_describe(error)}"
            )
            for name in names.values()
        ]
    server.memo.learn(endpoint, "relay to denied peers", None)
    checks = []
    for peer, name in names.items():
        answer = got["permissions"][peer]
        seconds = got["permission_seconds"][peer]
        if answer is None:
            checks.append(
                Check(
                    host,
                    name,
                    False,
                    seconds,
                    "OPEN RELAY: CreatePermission granted; add it to coturn_denied_peer_ips",
                )
            )
        elif answer.startswith("443"):
            # RFC 8656 Peer Address Family Mismatch: this relay is IPv4 and cannot reach
            # an IPv6 peer at all, so nothing leaks through it.
            checks.append(
                Check(
                    host,
                    name,
                    True,
                    seconds,
                    f"refused ({answer}): no IPv6 relay towards this peer",
                )
            )
        else:
            checks.append(Check(host, name, True, seconds, f"refused ({answer})"))
    return checks


def probe_server_sync(
    target: TurnTarget, secret: str, *, ca_file: str | None = None, timeout: float = 8.0
) -> list[Check]:
    """probe_server for callers without an event loop (the CLI)."""
    return asyncio.run(probe_server(target, secret, ca_file=ca_file, timeout=timeout))


def run_probes(
    targets: Iterable[tuple[TurnTarget, str]], *, ca_file: str | None = None, timeout: float = 8.0
) -> list[Check]:
    """Probe each (target, secret) in turn."""
    checks: list[Check] = []
    for target, secret in targets:
        checks.extend(probe_server_sync(target, secret, ca_file=ca_file, timeout=timeout))
    return checks
