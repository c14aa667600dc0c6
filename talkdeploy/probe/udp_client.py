"""aioice's UDP TURN client, made to hear "port unreachable".

On a connected UDP socket, Linux reports an ICMP port unreachable as ECONNREFUSED on the next
receive (udp(7), ERRORS; RFC 1122 section 4.1.3.3: UDP passes ICMP errors up), and asyncio hands
it to the protocol's error_received(). aioice 0.13 (aioice/turn.py, TurnClientUdpProtocol)
keeps DatagramProtocol's error_received, which ignores it, so a STUN transaction to a closed port
retransmits until it times out. Here the refusal ends the transaction at once: nothing listens
there, and no retransmission can change that. Loss (no answer at all) still gets every
retransmission aioice's stun.Transaction makes (RFC 8489 section 6.2.1).

Imported only when a probe runs (aioice is a heavy import for `talkdeploy --help`).
"""

from __future__ import annotations

import asyncio

from aioice import stun
from aioice.turn import TurnClientUdpProtocol


class PortUnreachable(ConnectionRefusedError, stun.TransactionError):
    """An ICMP port unreachable answered the request. A TransactionError too, so that aioice's
    own cleanup (TurnClientMixin.delete) treats it as the failed transaction it is."""

    def __str__(self) -> str:
        return "port unreachable (ICMP): nothing listens there"


class UdpTurnClient(TurnClientUdpProtocol):
    """TurnClientUdpProtocol whose transactions fail as soon as the port is refused."""

    def __init__(
        self,
        server: tuple[str, int],
        username: str | None,
        password: str | None,
        lifetime: int,
        channel_refresh_time: int,
    ) -> None:
        super().__init__(server, username, password, lifetime, channel_refresh_time)
        self.refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError) and not self.refused.done():
            self.refused.set_result(None)

    async def request(self, request: stun.Message) -> tuple[stun.Message, tuple[str, int]]:
        transaction = asyncio.ensure_future(super().request(request))
        try:
            done, _ = await asyncio.wait(
                (transaction, self.refused), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not transaction.done():
                transaction.cancel()  # refused, or our caller gave up: stop retransmitting
        if transaction in done:
            return transaction.result()
        raise PortUnreachable()
