"""The STUN/TURN probes against REAL coturn (Debian's package) in a container this test starts.

Two coturn instances run in one container: `guarded` (port 3478, the deny list of
docs/facts.md (coturn), TLS on 5349 with a certificate for turn.test signed by a
CA this test makes) and `open` (port 3490, the same but WITHOUT the deny list),
so each check is shown to pass on a good server and to fail on a bad one.
Traffic goes only to that container; the denied peers are asked for in
CreatePermission requests, which coturn answers itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from conftest import Container, remove_container, start_systemd_container

from talkdeploy.probe import Check
from talkdeploy.probe.stun_turn import DENIED_PEERS, TurnTarget, rest_credentials, run_probes

SECRET = "f0e1d2c3b4a5968778695a4b3c2d1e0f" * 2

# The role's own default deny list (one copy of the fact: roles/coturn/defaults/main.yml).
DENY_LIST = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "roles/coturn/defaults/main.yml").read_text(
        encoding="utf-8"
    )
)["coturn_denied_peer_ips"]


def _conf(port: int, min_port: int, deny: bool, tls: bool) -> str:
    lines = [
        f"listening-port={port}",
        f"min-port={min_port}",
        f"max-port={min_port + 100}",
        "fingerprint",
        "use-auth-secret",
        f"static-auth-secret={SECRET}",
        "realm=turn.test",
        "no-cli",
        "no-dtls",
        f"pidfile=/run/turn-{port}.pid",
        f"log-file=/var/log/turn-{port}.log",
        "simple-log",
    ]
    if tls:
        lines += ["tls-listening-port=5349", "cert=/etc/probe/cert.pem", "pkey=/etc/probe/key.pem"]
    else:
        lines += ["no-tls"]
    if deny:
        lines += [f"denied-peer-ip={block}" for block in DENY_LIST]
    return "\n".join(lines) + "\n"


@dataclass
class Coturn:
    container: Container
    ca_file: str
    guarded: TurnTarget
    open_relay: TurnTarget


def _make_certificate(directory: Path) -> None:
    """A CA and a leaf for turn.test signed by it, made with the host's openssl."""

    def ssl(*argv: str) -> None:
        subprocess.run(["openssl", *argv], cwd=directory, check=True, capture_output=True)

    ssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "30",
        "-subj",
        "/CN=probe CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=turn.test",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    )
    (directory / "ext.cnf").write_text("subjectAltName=DNS:turn.test\n")
    ssl(
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "20",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    )


@pytest.fixture(scope="module")
def coturn(debian12: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    certs = tmp_path_factory.mktemp("certs")
    _make_certificate(certs)
    container = start_systemd_container("talkdeploy-test/debian12", "h5-probe")
    try:
        container.sh(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "--no-install-recommends coturn >/dev/null && systemctl disable --now coturn"
        )
        container.sh("mkdir -p /etc/probe")
        container.put("/etc/probe/cert.pem", (certs / "cert.pem").read_text())
        container.put("/etc/probe/key.pem", (certs / "key.pem").read_text(), "0600")
        container.put("/etc/probe/guarded.conf", _conf(3478, 50000, deny=True, tls=True))
        container.put("/etc/probe/open.conf", _conf(3490, 50200, deny=False, tls=False))
        for name in ("guarded", "open"):
            container.exec(
                "systemd-run",
                f"--unit=probe-{name}",
                "/usr/bin/turnserver",
                "-c",
                f"/etc/probe/{name}.conf",
            )
        container.sh(
            "for i in $(seq 50); do ss -ltn | grep -q ':5349 ' && "
            "ss -lun | grep -q ':3490 ' && exit 0; sleep 0.2; done; exit 1"
        )
        ip = container.ip
        guarded = TurnTarget("guarded", ip, "turn.test", 3478, 5349, udp=True, tcp=True, tls=True)
        open_relay = TurnTarget("open", ip, "turn.test", 3490, None, udp=True, tcp=True)
        yield Coturn(container, str(certs / "ca.pem"), guarded, open_relay)
    finally:
        remove_container(container)


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_rest_credentials_are_hmac_sha1_of_the_username() -> None:
    username, password = rest_credentials("s3cret", ttl=300, now=1_000_000)
    assert username == "1000300:talkdeploy"
    expected = hmac.new(b"s3cret", b"1000300:talkdeploy", hashlib.sha1).digest()
    assert base64.b64decode(password) == expected


@pytest.mark.docker
def test_every_check_passes_against_a_guarded_coturn(coturn: Coturn) -> None:
    checks = _by_name(run_probes([(coturn.guarded, SECRET)], ca_file=coturn.ca_file))
    failed = [f"{c.name}: {c.detail}" for c in checks.values() if not c.ok]
    assert failed == []
    assert set(checks) >= {
        "stun binding (udp)",
        "turn allocation (udp)",
        "turn allocation (tcp)",
        "turns allocation (tls :3478)",
        "turns allocation (tls :5349)",
        "wrong secret refused (udp)",
        *(f"relay to {peer} refused" for peer in DENIED_PEERS),
    }
    # The relayed address is the container's own: coturn really allocated.
    assert checks["turn allocation (udp)"].data["relayed"][0] == coturn.container.ip
    # Days to expiry like Talk's admin page: the leaf was signed for 20 days.
    days = checks["turns allocation (tls :5349)"].data["certificate_days"]
    assert 19 < days <= 20


@pytest.mark.docker
def test_allocation_with_a_wrong_secret_fails(coturn: Coturn) -> None:
    checks = _by_name(run_probes([(coturn.guarded, "not-the-secret")], ca_file=coturn.ca_file))
    for name in ("turn allocation (udp)", "turn allocation (tcp)", "turns allocation (tls :5349)"):
        assert not checks[name].ok
        assert "401" in checks[name].detail
    # A wrong secret derived from a wrong secret is still refused: that check stays green.
    assert checks["wrong secret refused (udp)"].ok


@pytest.mark.docker
def test_relay_to_internal_networks_fails_when_the_deny_list_is_missing(coturn: Coturn) -> None:
    checks = _by_name(run_probes([(coturn.open_relay, SECRET)]))
    assert checks["turn allocation (udp)"].ok
    for peer in ("10.0.0.1", "169.254.169.254"):
        check = checks[f"relay to {peer} refused"]
        assert not check.ok
        assert "OPEN RELAY" in check.detail


@pytest.mark.docker
def test_relay_to_denied_peers_is_refused_with_403(coturn: Coturn) -> None:
    checks = _by_name(run_probes([(coturn.guarded, SECRET)], ca_file=coturn.ca_file))
    for peer in ("127.0.0.1", "10.0.0.1", "169.254.169.254"):
        assert checks[f"relay to {peer} refused"].detail.startswith("refused (403")


@pytest.mark.docker
def test_tls_fails_when_the_certificate_does_not_match_the_turn_domain(coturn: Coturn) -> None:
    other_name = replace(coturn.guarded, public_name="other.test")
    checks = _by_name(run_probes([(other_name, SECRET)], ca_file=coturn.ca_file))
    for port in (3478, 5349):
        assert not checks[f"turns allocation (tls :{port})"].ok
        assert "certificate" in checks[f"turns allocation (tls :{port})"].detail.lower()


@pytest.mark.docker
def test_tls_fails_with_an_untrusted_certificate(coturn: Coturn) -> None:
    checks = _by_name(run_probes([(coturn.guarded, SECRET)]))  # system CAs only
    for port in (3478, 5349):
        assert not checks[f"turns allocation (tls :{port})"].ok
        assert "certificate" in checks[f"turns allocation (tls :{port})"].detail.lower()


@pytest.mark.docker
def test_a_closed_port_fails_within_the_timeout(coturn: Coturn) -> None:
    closed = replace(coturn.guarded, port=3999, tls=False)
    checks = _by_name(run_probes([(closed, SECRET)], timeout=2))
    assert not checks["stun binding (udp)"].ok
    assert not checks["turn allocation (tcp)"].ok
    assert all(check.seconds < 5 for check in checks.values())
    # Found closed by the first check on it, the UDP port is not dialled again.
    later = checks["turn allocation (udp)"]
    assert not later.ok
    assert later.detail.startswith("not tried: udp"), later.detail
    assert '"stun binding (udp)"' in later.detail
