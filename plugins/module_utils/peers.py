"""Relay policy: the peers coturn may relay to, judged before any host is touched.

A TURN server relays into whatever network it sits in. coturn refuses peers in
`denied-peer-ip` unless `allowed-peer-ip` lists them (allowed wins: coturn
src/server/ns_turn_server.c, `good_peer_addr`). Two CVEs show what matters: CVE-2020-26262
(loopback reached through 0.0.0.0 and ::, fixed in 4.5.2) and CVE-2026-27624 (IPv4-mapped
IPv6 such as ::ffff:127.0.0.1 passing the IPv4 deny rules, fixed only in 4.9.0; Debian 12 and
13 ship 4.6.1). So:

- NEVER: loopback, "this host", link-local (cloud metadata lives at 169.254.169.254 and
  fd00:ec2::254) and the IPv6 forms that carry those IPv4 addresses (IPv4-mapped, NAT64
  64:ff9b::/96, 6to4 2002::/16). Allowing a peer there, or a deny list that no longer covers
  them, is an error unless the operator acknowledges it.
- WIDE: one allowed range wider than an IPv4 /24 or an IPv6 /64 opens a network, not a peer.
- INTERNAL: private networks, also in their IPv6 forms (::ffff:10.0.0.20 is 10.0.0.20). A
  single allowed address there is the High Performance Backend case (Janus on the LAN): a
  warning. A deny list that no longer covers one: a warning.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ansible_collections.talkdeploy.talk.plugins.module_utils.values import IPAddress, address_text

Range = tuple[IPAddress, IPAddress]


def _networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item) for item in text.split()]


NEVER = _networks(
    "0.0.0.0/8 127.0.0.0/8 169.254.0.0/16 ::/128 ::1/128 fe80::/10 fd00:ec2::254/128 "
    "::ffff:0.0.0.0/104 ::ffff:127.0.0.0/104 ::ffff:169.254.0.0/112 "
    "64:ff9b::/104 64:ff9b::7f00:0/104 64:ff9b::a9fe:0/112 "
    "2002::/24 2002:7f00::/24 2002:a9fe::/32 "
    # IPv4-compatible (RFC 4291 2.5.5.1, deprecated) and SIIT (RFC 6145 ::ffff:0:a.b.c.d) forms
    "::127.0.0.0/104 ::169.254.0.0/112 ::ffff:0:7f00:0/104 ::ffff:0:a9fe:0/112"
)
INTERNAL = _networks("10.0.0.0/8 100.64.0.0/10 172.16.0.0/12 192.168.0.0/16 198.18.0.0/15 fc00::/7")


def _carriers(network: ipaddress.IPv4Network) -> list[ipaddress.IPv6Network]:
    """The IPv6 networks that carry an IPv4 network: IPv4-mapped (::ffff:0:0/96, the form that
    passes coturn's IPv4 rules below 4.9.0), NAT64 (64:ff9b::/96, RFC 6052) and 6to4
    (2002::/16, RFC 3056)."""
    first, bits = int(network.network_address), network.prefixlen
    return [
        ipaddress.IPv6Network((int(ipaddress.IPv6Address("::ffff:0:0")) | first, 96 + bits)),
        ipaddress.IPv6Network((int(ipaddress.IPv6Address("64:ff9b::")) | first, 96 + bits)),
        ipaddress.IPv6Network((int(ipaddress.IPv6Address("2002::")) | (first << 80), 16 + bits)),
    ]


# The private IPv4 networks in their IPv6 forms: ::ffff:10.0.0.20 reaches 10.0.0.20.
INTERNAL_CARRIED = [
    carrier
    for network in INTERNAL
    if isinstance(network, ipaddress.IPv4Network)
    for carrier in _carriers(network)
]
# What the deny list must cover: an error when it does not (the NEVER networks coturn's
# default deny list of the Talk guide covers), a warning for the rest.
MUST_DENY = _networks(
    "0.0.0.0/8 127.0.0.0/8 169.254.0.0/16 ::1/128 fe80::/10 ::ffff:0.0.0.0/96 fd00:ec2::254/128"
)
SHOULD_DENY = [*INTERNAL, *_networks("64:ff9b::/96 2002::/16")]
WIDEST = {4: 256, 6: 2**64}  # addresses in one allowed range: an IPv4 /24, an IPv6 /64


def size(peer: Range) -> int:
    return int(peer[1]) - int(peer[0]) + 1


def overlaps(peer: Range, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    first, last = peer
    if first.version != network.version:
        return False
    return int(first) <= int(network.broadcast_address) and int(last) >= int(
        network.network_address
    )


def network_text(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return f"{address_text(network.network_address)}/{network.prefixlen}"


def never_reached(peer: Range) -> list[str]:
    """The NEVER networks an allowed peer range reaches into."""
    return [network_text(network) for network in NEVER if overlaps(peer, network)]


def too_wide(peer: Range) -> bool:
    return size(peer) > WIDEST[peer[0].version]


def internal(peer: Range) -> list[str]:
    """The private networks an allowed peer range reaches into, also through IPv6 forms."""
    networks = [*INTERNAL, *INTERNAL_CARRIED]
    return [network_text(network) for network in networks if overlaps(peer, network)]


def _merged(ranges: Iterable[Range], version: int) -> list[tuple[int, int]]:
    spans = sorted((int(a), int(b)) for a, b in ranges if a.version == version)
    merged: list[tuple[int, int]] = []
    for low, high in spans:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def uncovered(
    denied: Iterable[Range], networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> list[str]:
    """The networks the deny list does not cover entirely."""
    denied = list(denied)
    spans = {4: _merged(denied, 4), 6: _merged(denied, 6)}
    missing = []
    for network in networks:
        low, high = int(network.network_address), int(network.broadcast_address)
        if not any(a <= low and high <= b for a, b in spans[network.version]):
            missing.append(network_text(network))
    return missing
