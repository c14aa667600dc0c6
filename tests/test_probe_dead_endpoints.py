"""A TURN endpoint that did not answer is not dialled again by the later checks (no containers).

Everything here talks to loopback only: a port nothing listens on (TCP resets it, UDP gets an
ICMP port unreachable), a UDP socket that reads and never answers (a filtered or hung server),
and a tiny STUN server that answers Binding but ignores Allocate.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import Counter
from typing import Any, cast

import pytest
from aioice import stun

from talkdeploy.probe import Check
from talkdeploy.probe.stun_turn import EndpointMemo, TurnTarget, probe_server
from talkdeploy.probe.udp_client import PortUnreachable

LOOPBACK = "127.0.0.1"
SECRET = "0123456789abcdef" * 4


def _closed_port() -> int:
    """A loopback port free for both TCP and UDP at the time of asking."""
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind((LOOPBACK, 0))
        port = int(tcp.getsockname()[1])
        udp.bind((LOOPBACK, port))
    return port


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


class Listener(asyncio.DatagramProtocol):
    """Counts the datagrams each source port sent; answers Binding requests when asked to."""

    def __init__(self, answer_binding: bool) -> None:
        self.answer_binding = answer_binding
        self.sent_from: Counter[int] = Counter()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sent_from[addr[1]] += 1
        request = stun.parse_message(data)
        if self.answer_binding and request.message_method == stun.Method.BINDING:
            response = stun.Message(
                message_method=stun.Method.BINDING,
                message_class=stun.Class.RESPONSE,
                transaction_id=request.transaction_id,
            )
            response.attributes["XOR-MAPPED-ADDRESS"] = addr
            assert self.transport is not None
            self.transport.sendto(bytes(response), addr)


def _probe_udp_listener(answer_binding: bool, timeout: float) -> tuple[list[Check], Listener]:
    """probe_server over UDP only, against a Listener on a loopback port."""

    async def scenario() -> tuple[list[Check], Listener]:
        listener = Listener(answer_binding)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: listener, local_addr=(LOOPBACK, 0)
        )
        try:
            port = int(transport.get_extra_info("sockname")[1])
            target = TurnTarget("silent", LOOPBACK, "turn.test", port, None, udp=True, tcp=False)
            return await probe_server(target, SECRET, timeout=timeout), listener
        finally:
            transport.close()

    return asyncio.run(scenario())


def test_a_closed_port_is_found_once_and_named_by_the_later_checks() -> None:
    port = _closed_port()
    target = TurnTarget("closed", LOOPBACK, "turn.test", port, port + 1, tcp=True, tls=True)
    checks = _by_name(asyncio.run(probe_server(target, SECRET, timeout=8.0)))
    # The first contact on each endpoint says what it met: ICMP for UDP, a reset for TCP.
    assert checks["stun binding (udp)"].detail == str(PortUnreachable())
    assert checks["turn allocation (tcp)"].detail == "connection refused"
    udp_first = f'not tried: udp {LOOPBACK}:{port} did not answer "stun binding (udp)"'
    for name in ("turn allocation (udp)", "wrong secret refused (udp)", "relay to ::1 refused"):
        assert checks[name].detail.startswith(udp_first), checks[name].detail
        assert not checks[name].ok
    tcp_first = f'not tried: tcp {LOOPBACK}:{port} did not answer "turn allocation (tcp)"'
    assert checks[f"turns allocation (tls :{port})"].detail.startswith(tcp_first)
    # tls-listening-port is another endpoint: tried on its own.
    assert checks[f"turns allocation (tls :{port + 1})"].detail == "connection refused"


def test_a_silent_udp_port_gets_retransmissions_once_then_no_more_datagrams() -> None:
    checks, listener = _probe_udp_listener(answer_binding=False, timeout=1.2)
    by_name = _by_name(checks)
    assert by_name["stun binding (udp)"].detail.startswith("no answer (timed out)")
    # The first contact kept aioice's retransmissions (RFC 8489 section 6.2.1: again after
    # 500 ms), and it was the only socket that ever sent: every later check was not tried.
    assert len(listener.sent_from) == 1
    assert next(iter(listener.sent_from.values())) >= 2
    later = [c for c in checks if c.name != "stun binding (udp)"]
    assert later
    assert all(c.detail.startswith("not tried: udp") and not c.ok for c in later)


def test_an_endpoint_that_answered_once_is_still_tried_after_a_timeout() -> None:
    checks, listener = _probe_udp_listener(answer_binding=True, timeout=0.6)
    by_name = _by_name(checks)
    assert by_name["stun binding (udp)"].ok, by_name["stun binding (udp)"].detail
    assert by_name["turn allocation (udp)"].detail.startswith("no answer (timed out)")
    # The server answered Binding, so the allocation's timeout is that check's own failure:
    # the wrong-secret and relay checks still dialled it, each from its own socket.
    assert not by_name["wrong secret refused (udp)"].detail.startswith("not tried")
    assert not by_name["relay to 127.0.0.1 refused"].detail.startswith("not tried")
    assert len(listener.sent_from) == 4  # binding, allocation, wrong secret, relay


@pytest.mark.parametrize(
    ("error", "silent"),
    [
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (PortUnreachable(), True),
        (stun.TransactionTimeout(), True),
        (ssl.SSLCertVerificationError("bad certificate"), False),  # the server spoke TLS
        (OSError("Network is unreachable"), False),  # says nothing about the endpoint
    ],
)
def test_only_silence_or_refusal_writes_an_endpoint_off(error: Exception, silent: bool) -> None:
    memo = EndpointMemo(LOOPBACK)
    memo.learn(("tcp", 443), "first check", error)
    reason = memo.not_tried(("tcp", 443))
    assert (reason is not None) == silent
    if reason:
        assert '"first check"' in reason
    assert memo.not_tried(("udp", 443)) is None  # another transport is another endpoint


def test_a_stun_error_answer_keeps_the_endpoint_tried_after_a_later_timeout() -> None:
    memo = EndpointMemo(LOOPBACK)
    refused: Any = stun.TransactionFailed(
        stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.ERROR)
    )
    memo.learn(("udp", 3478), "turn allocation (udp)", refused)
    memo.learn(("udp", 3478), "wrong secret refused (udp)", TimeoutError())
    assert memo.not_tried(("udp", 3478)) is None
