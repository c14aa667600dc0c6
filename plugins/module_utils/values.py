"""What a single value IS: each check takes a raw inventory value and returns its normal form.

Used by the roles (through the action plugin talkdeploy.talk.check_settings) and by the
talkdeploy CLI alike, so a value refused by one is refused by the other with the same words.
A check raises Invalid(problem, fix); `problem` completes a sentence that starts with the
variable name ("coturn_realm " + problem) and never quotes a value that may be a secret:
callers quote items only through `shown()`.

Every string that reaches a file on a host goes through `text()`: a newline, carriage return,
NUL or any other control character would start a new line in turnserver.conf (coturn reads one
option per line, coturn src/apps/relay/mainrelay.c read_config_file) or in a systemd unit.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import Any, NoReturn

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the invisible format
# characters (zero-width spaces and joiners, bidirectional overrides and isolates, BOM) that
# can make a value read differently in review than it does in the file.
CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
DIGITS = re.compile(r"[0-9]{1,10}", re.ASCII)
LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"(?=.{{1,253}}$){LABEL}(\.{LABEL})*\.?", re.ASCII)
OPTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*", re.ASCII)
# systemd.time(7) calendar events: weekdays, dates, times, `*`, lists, ranges and repetitions.
CALENDAR = re.compile(r"[A-Za-z0-9*:,./~+ -]{1,100}", re.ASCII)
CIPHER_LIST = re.compile(r"[A-Za-z0-9:+!@=_.,-]{1,500}", re.ASCII)
SHELL_SIGNS = re.compile(r"[$`~*?\[\]{}\"'\\]")
# Directories a role must never chown or chmod (it gives its own directory root:<group> 0750).
SYSTEM_DIRECTORIES = frozenset(
    """
    / /bin /boot /dev /etc /home /lib /lib32 /lib64 /media /mnt /opt /proc /root /run /sbin
    /srv /sys /tmp /usr /var /etc/ssl /etc/ssl/certs /etc/ssl/private /etc/letsencrypt
    /etc/letsencrypt/live /etc/letsencrypt/archive /etc/systemd /etc/systemd/system /etc/pki
    /etc/default /etc/sudoers.d /usr/bin /usr/sbin /usr/lib /usr/local /usr/share /var/lib
    /var/log /var/run /var/tmp /var/www
    """.split()  # noqa: SIM905 - paths read better as words
)


class Invalid(ValueError):
    """A value is not what its variable needs: `problem` and how to `fix` it."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def fail(problem: str, fix: str) -> NoReturn:
    raise Invalid(problem, fix)


def shown(value: Any, limit: int = 60) -> str:
    """A value quoted for a message: control characters escaped, long values cut."""
    text_form = repr(value)
    return text_form if len(text_form) <= limit else text_form[: limit - 3] + "..."


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# --------------------------------------------------------------------------- scalars


def text(value: Any, *, empty: bool = True, what: str = "a string") -> str:
    if not isinstance(value, str):
        fail(f"is {kind(value)}, not {what}", f"give {what} (quote it in YAML)")
    if CONTROL.search(value):
        fail(
            "contains a control character (newline, carriage return, tab, NUL...), which would "
            "start a new line in the file it is written to",
            "write the value on one line, without control characters",
        )
    if not empty and value == "":
        fail("is empty", f"give {what}")
    return value


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        fail(
            f"is the string {shown(value)}, not a boolean: templates treat any non-empty string "
            "as true",
            "write true or false without quotes (with -e, pass JSON: -e '{\"<name>\": false}')",
        )
    fail(f"is {kind(value)}, not a boolean", "write true or false")


def integer(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        fail(f"is {kind(value)}, not a whole number", f"give a whole number {low}-{high}")
    if isinstance(value, str):
        if not DIGITS.fullmatch(value):
            fail(f"is {shown(value)}, not a whole number", f"give a whole number {low}-{high}")
        value = int(value)
    if not low <= value <= high:
        fail(f"is {value}, outside {low}-{high}", f"give a whole number {low}-{high}")
    return int(value)


def port(value: Any) -> int:
    return integer(value, 1, 65535)


def choice(value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        fail(f"is {shown(value)}", "use one of: " + ", ".join(choices))
    return value


def hostname(value: Any) -> str:
    name = text(value, empty=False, what="a DNS name")
    if not HOSTNAME.fullmatch(name):
        fail(f"is {shown(name)}, not a valid DNS name", "use a name like turn.example.org")
    return name


def host_or_address(value: Any) -> str:
    name = text(value, empty=False, what="a DNS name or an IP address")
    try:
        return ip_address(name)
    except Invalid:
        pass
    if "://" in name or name.startswith(("turn:", "turns:", "stun:")):
        fail(f"is {shown(name)}, with a scheme", "give the bare name, e.g. turn.example.org")
    host, sep, rest = name.rpartition(":")
    if sep and host and DIGITS.fullmatch(rest):
        fail(f"is {shown(name)}, with a port", "give the name alone; ports have own variables")
    return hostname(name)


def option_name(value: Any) -> str:
    name = text(value, empty=False, what="an option name")
    if not OPTION_NAME.fullmatch(name):
        fail(
            f"has {shown(name)}, which is not a bare option name",
            "give option names as keys (no spaces, `=` or `#`) and values as values",
        )
    return name


def calendar(value: Any) -> str:
    event = text(value, empty=False, what="a systemd calendar event")
    if not CALENDAR.fullmatch(event) or event != event.strip():
        fail(
            f"is {shown(event)}, not a systemd calendar event (systemd.time(7))",
            "use a form like `*-*-* 04:30:00` or `Sun 03:00`",
        )
    return event


def cipher_list(value: Any) -> str:
    ciphers = text(value)
    if ciphers and not CIPHER_LIST.fullmatch(ciphers):
        fail(
            "holds characters an OpenSSL cipher list does not use",
            "use an OpenSSL cipher string like ECDHE+AESGCM:ECDHE+CHACHA20 (or leave it empty)",
        )
    return ciphers


def hex_secret(value: Any, minimum: int = 32) -> str:
    """A shared secret: never quoted in a message."""
    if not isinstance(value, str):
        fail(
            f"is {kind(value)} (value not shown: it is a secret); a secret must be a string",
            "quote it in YAML (a number loses leading zeros), or vault-encrypt it",
        )
    if value != value.strip() or any(c.isspace() for c in value) or CONTROL.search(value):
        fail("contains whitespace or control characters (value not shown)", "remove them")
    if not re.fullmatch(r"[0-9a-fA-F]+", value, re.ASCII):
        fail(
            "has characters other than hex digits (value not shown)",
            f"use at least {minimum} hex characters, e.g. the output of `openssl rand -hex 32`",
        )
    if len(value) < minimum:
        fail(
            f"has {len(value)} hex characters, fewer than {minimum} (value not shown)",
            f"use at least {minimum} hex characters, e.g. the output of `openssl rand -hex 32`",
        )
    return value


def string_list(value: Any) -> list[Any]:
    if value is None or isinstance(value, str) or not isinstance(value, list | tuple):
        fail(f"is {kind(value)}, not a list", "give a YAML list (write [] for none)")
    return list(value)


# --------------------------------------------------------------------------- paths


def absolute_path(value: Any, *, empty: bool = False) -> str:
    path = text(value, empty=empty, what="an absolute path")
    if path == "":
        return path
    if not path.startswith("/"):
        fail(
            f"is {shown(path)}, not an absolute path",
            "give the full path on the host, starting with / (no ~ or $VARIABLES)",
        )
    if SHELL_SIGNS.search(path) or any(c.isspace() for c in path):
        fail(
            f"is {shown(path)}: paths are taken literally on the host, so ~, $, quotes, "
            "wildcards and spaces are refused",
            "give the plain absolute path",
        )
    if ".." in path.split("/") or posixpath.normpath(path) != path:
        fail(
            f"is {shown(path)}, not in normal form (`..`, `.`, `//` or a trailing /)",
            f"write it as {shown(posixpath.normpath(path))}",
        )
    if path.startswith("//"):
        # normpath keeps a leading `//` (POSIX leaves its meaning to the system; Linux reads
        # it as /), so `//etc` would slip past owned_directory's list of system directories.
        fail(
            f"is {shown(path)}, not in normal form (it starts with //)",
            f"write it as {shown('/' + path.lstrip('/'))}",
        )
    return path


def owned_directory(value: Any) -> str:
    """A directory the role creates and chowns root:<coturn group> 0750: one of coturn's own.

    Its path must name coturn or turn (as /etc/coturn/tls does), so that /etc/ssh, /home/USER
    or /usr/local/etc are refused as well as the system directories listed above.
    """
    path = absolute_path(value)
    if path in SYSTEM_DIRECTORIES or path.count("/") < 2:
        fail(
            f"is {path}, a system directory: the role would change its owner and mode",
            "give a directory of its own, e.g. /etc/coturn/tls",
        )
    if not any("turn" in part.lower() for part in path.split("/")):
        fail(
            f"is {path}, which is not coturn's own directory: the role would make it "
            "root:<coturn group> 0750",
            "give a directory whose path names coturn or turn, e.g. /etc/coturn/tls",
        )
    return path


# --------------------------------------------------------------------------- addresses


def ip_address(value: Any) -> str:
    return address_text(parse_address(value))


def parse_address(value: Any) -> IPAddress:
    item = text(value, empty=False, what="an IP address")
    if item != item.strip() or any(c.isspace() for c in item):
        fail(f"has {shown(item)}, with whitespace", "write the address alone, e.g. 203.0.113.5")
    if "%" in item:
        fail(
            f"has {shown(item)}, with an IPv6 zone (%...), which coturn and firewalls do not take",
            "remove the %zone part",
        )
    try:
        return ipaddress.ip_address(item)
    except ValueError:
        fail(
            f"has {shown(item)}, which is not an IP address",
            "write e.g. 203.0.113.5 or 2001:db8::5",
        )


def parse_range(value: Any) -> tuple[IPAddress, IPAddress]:
    """`FIRST-LAST`, a single address, or a CIDR network (written as its range)."""
    item = text(value, empty=False, what="an IP address or range")
    if "/" in item:
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            fail(
                f"has {shown(item)}, which is not a network (host bits set, or not an address)",
                "write a range FIRST-LAST or a network like 10.0.0.0/8",
            )
        if "%" in item or any(c.isspace() for c in item):
            fail(f"has {shown(item)}, with a zone or whitespace", "remove it")
        return network.network_address, network.broadcast_address
    if "-" in item:
        start, _, end = item.partition("-")
        first, last = parse_address(start), parse_address(end)
        if first.version != last.version:
            fail(f"has {shown(item)}, which mixes IPv4 and IPv6", "keep both ends in one family")
        if first > last:  # type: ignore[operator]
            fail(f"has {shown(item)}, which ends before it starts", "swap the two ends")
        return first, last
    address = parse_address(item)
    return address, address


def address_text(address: IPAddress) -> str:
    """The normal spelling; IPv4-mapped IPv6 keeps its IPv4 part dotted (::ffff:127.0.0.1)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def range_text(first: IPAddress, last: IPAddress) -> str:
    """coturn's spelling (denied-peer-ip / allowed-peer-ip): `A` or `A-B`."""
    if first == last:
        return address_text(first)
    return f"{address_text(first)}-{address_text(last)}"


def external_ip(value: Any) -> str:
    """external-ip: `PUBLIC` or `PUBLIC/PRIVATE` (coturn README.turnserver)."""
    item = text(value, empty=False, what="an address or PUBLIC/PRIVATE pair")
    parts = item.split("/")
    if len(parts) > 2:
        fail(f"has {shown(item)}", "write PUBLIC-IP or PUBLIC-IP/PRIVATE-IP")
    return "/".join(ip_address(part) for part in parts)


def source_network(value: Any) -> str:
    """A firewall source: an address or a network, as ufw/nft/firewalld print it."""
    item = text(value, empty=False, what="an IP address or network")
    if "%" in item or any(c.isspace() for c in item):
        fail(f"has {shown(item)}, with a zone or whitespace", "write e.g. 198.51.100.0/24")
    try:
        network = ipaddress.ip_network(item, strict=False)
    except ValueError:
        fail(f"has {shown(item)}, which is not an address or network", "write e.g. 198.51.100.0/24")
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def port_spec(value: Any) -> str:
    """`PORT/PROTO` or `FIRST-LAST/PROTO`, proto tcp or udp."""
    item = text(value, empty=False, what="PORT/PROTO")
    match = re.fullmatch(r"([0-9]{1,5})(?:-([0-9]{1,5}))?/(tcp|udp)", item, re.ASCII)
    if match is None:
        fail(f"has {shown(item)}, not PORT/PROTO", "write e.g. 80/tcp or 10000-10100/udp")
    first = port(match.group(1))
    last = port(match.group(2)) if match.group(2) else first
    if first > last:
        fail(f"has {shown(item)}, a reversed range", "write the lower port first")
    ports = str(first) if first == last else f"{first}-{last}"
    return f"{ports}/{match.group(3)}"


def host_port(value: Any) -> str:
    """`host:port` as Talk takes it (spreed lib/Command/Stun/Add.php); IPv6 in brackets."""
    item = text(value, empty=False, what="host:port")
    if "://" in item or re.match(r"(stun|turn|turns|https?):", item):
        fail(
            f"has {shown(item)}, with a scheme; Talk wants host:port", "write stun.example.org:3478"
        )
    host, sep, number = item.rpartition(":")
    if not sep or not host:
        fail(
            f"has {shown(item)}, without a port; Talk wants host:port",
            "write stun.example.org:3478",
        )
    if not DIGITS.fullmatch(number) or not 1 <= int(number) <= 65535:
        fail(f"has {shown(item)}, without a valid port (1-65535)", "write stun.example.org:3478")
    if host.startswith("[") and host.endswith("]"):
        address = parse_address(host[1:-1])
        if address.version != 6:
            fail(f"has {shown(item)}: brackets are for IPv6", "write the IPv4 address bare")
        return f"[{address}]:{int(number)}"
    if ":" in host:
        fail(f"has {shown(item)}: IPv6 addresses go in brackets", "write [2001:db8::1]:3478")
    try:
        return f"{ip_address(host)}:{int(number)}"
    except Invalid:
        pass
    if not HOSTNAME.fullmatch(host):
        fail(f"has {shown(item)}, whose host is not a valid name", "write stun.example.org:3478")
    return f"{host}:{int(number)}"
