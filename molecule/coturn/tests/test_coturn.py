"""roles/coturn on a real coturn: it runs, binds 443 as `turnserver`, relays TURN allocations
with REST credentials from its secret, refuses what it must, and survives bad input.

Allocation tests run `turnutils_uclient` inside the container against the container's own
address (docs/facts.md, coturn: exit codes lie, so the loss line is parsed). Tests that
re-run the converge playbook with other settings live in test_reruns.py, which runs after
this module.
"""

import asyncio
import base64
import hashlib
import hmac
import re
import ssl
import time
from pathlib import Path

import pytest
import yaml
from aioice import turn
from aioice.stun import TransactionFailed

CONF = "/etc/turnserver.conf"
CERT = "/etc/ssl/talkdeploy-test/turn.crt"
KEY = "/etc/ssl/talkdeploy-test/turn.key"
PEER_PORT = 3480
LOSS = re.compile(r"Total lost packets (\d+) \(")

# The role's own default deny list (one copy of the fact: roles/coturn/defaults/main.yml).
DENY_LIST = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "roles/coturn/defaults/main.yml").read_text(
        encoding="utf-8"
    )
)["coturn_denied_peer_ips"]


def conf_lines(host):
    return host.file(CONF).content_string.splitlines()


def secret(host):
    secrets = [
        line.split("=", 1)[1] for line in conf_lines(host) if line.startswith("static-auth-secret=")
    ]
    assert secrets, "no static-auth-secret in turnserver.conf"
    return secrets[0]


def own_address(host):
    return host.check_output("hostname -I").split()[0]


def uclient(host, options, key=None):
    """Run turnutils_uclient against the container's own coturn; returns stdout + stderr."""
    key = secret(host) if key is None else key
    result = host.run(
        f"cd /tmp && timeout 40 turnutils_uclient {options} -W {key} -n 10 -m 1 {own_address(host)}"
    )
    return result.stdout + result.stderr


def lost_packets(output):
    match = LOSS.search(output)
    assert match, f"no loss report, so no relay happened:\n{output[-1500:]}"
    return int(match.group(1))


def method(host):
    return host.ansible.get_variables().get("coturn_privileged_port_method", "setcap")


class _Collect(asyncio.DatagramProtocol):
    def __init__(self):
        self.received = []

    def datagram_received(self, data, addr):
        self.received.append(data)


async def _relay(key, server, port, peer):
    user = f"{int(time.time()) + 300}:talkdeploy-test"  # TURN REST credentials, as Talk makes
    password = base64.b64encode(hmac.new(key.encode(), user.encode(), hashlib.sha1).digest())
    context = ssl.create_default_context()
    context.check_hostname = False  # the test certificate is self-signed
    context.verify_mode = ssl.CERT_NONE
    transport, protocol = await turn.create_turn_endpoint(
        _Collect,
        server_addr=(server, port),
        username=user,
        password=password.decode(),
        transport="tcp",
        ssl=context,
    )
    try:
        for i in range(5):
            transport.sendto(b"talkdeploy-%d" % i, peer)
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        return transport.get_extra_info("sockname"), protocol.received
    finally:
        transport.close()


def relay_over_tls(key, server, port, peer):
    """TURN over TLS (turns:): allocate, relay five datagrams to `peer`, collect the echoes."""
    return asyncio.run(asyncio.wait_for(_relay(key, server, port, peer), 30))


# --- the service ------------------------------------------------------------------------------


def test_coturn_is_active_and_enabled(host):
    service = host.service("coturn")
    assert service.is_running
    assert service.is_enabled


@pytest.mark.parametrize(("protocol", "port"), [("u", 443), ("t", 443), ("t", 5349)])
def test_coturn_listens_on_the_configured_ports(host, protocol, port):
    listening = host.check_output(f"ss -Hln{protocol}").splitlines()
    assert any(line.split()[-2].endswith(f":{port}") for line in listening), listening


def test_ports_below_1024_are_privileged_in_this_container(host):
    # Without this sysctl Docker lets anyone bind 443 and the next test would prove nothing.
    assert host.sysctl("net.ipv4.ip_unprivileged_port_start") == 1024


def test_coturn_binds_443_as_the_turnserver_user(host):
    users = host.check_output("ps -o user= -C turnserver").split()
    assert users == ["turnserver"]


def test_service_is_tuned_by_drop_in(host):
    assert host.check_output("systemctl show -p LimitNOFILE --value coturn") == "1048576"
    assert host.check_output("systemctl show -p Restart --value coturn") == "on-failure"


def test_exactly_the_chosen_privilege_is_in_place(host):
    capability = host.run("getcap /usr/bin/turnserver").stdout
    hook = host.file("/etc/apt/apt.conf.d/80talkdeploy-coturn-setcap")
    dropin = host.file("/etc/systemd/system/coturn.service.d/talkdeploy-privileged-port.conf")
    if method(host) == "setcap":
        assert "cap_net_bind_service=ep" in capability
        assert hook.exists
        assert "setcap cap_net_bind_service=+ep /usr/bin/turnserver" in hook.content_string
        assert not dropin.exists
    else:
        assert capability.strip() == ""
        assert not hook.exists
        assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in dropin.content_string
        ambient = host.check_output("systemctl show -p AmbientCapabilities --value coturn")
        assert "cap_net_bind_service" in ambient


# --- turnserver.conf -----------------------------------------------------------------------------


def test_turnserver_conf_is_readable_by_root_and_turnserver_only(host):
    conf = host.file(CONF)
    assert (conf.user, conf.group, conf.mode) == ("root", "turnserver", 0o640)


def test_turnserver_conf_has_no_comments(host):
    # coturn 4.6.1 exits on `option # comment` (docs/facts.md, coturn); the file has none at all.
    assert [line for line in conf_lines(host) if "#" in line or not line.strip()] == []


def test_version_gated_options_match_coturn_4_6_1(host):
    version = host.check_output("dpkg-query -W -f='${Version}' coturn")
    assert version.startswith("4.6.1")
    lines = set(conf_lines(host))
    assert {"use-auth-secret", "fingerprint", "no-cli", "no-tlsv1", "no-tlsv1_1"} <= lines
    assert "no-stun-backward-compatibility" in lines
    assert "lt-cred-mech" not in lines  # only below 4.5.0.8
    assert "no-loopback-peers" not in lines  # only below 4.5.1.0


def test_deny_list_covers_private_loopback_and_ipv4_mapped_ranges(host):
    denied = [
        line.split("=", 1)[1] for line in conf_lines(host) if line.startswith("denied-peer-ip=")
    ]
    assert denied == DENY_LIST


def test_generated_secret_is_64_lowercase_hex(host):
    assert re.fullmatch(r"[0-9a-f]{64}", secret(host))


def test_tls_key_copy_is_readable_by_coturn_only_and_original_stays_root_only(host):
    for path in ("/etc/coturn/tls/turn-cert.pem", "/etc/coturn/tls/turn-pkey.pem"):
        copy = host.file(path)
        assert (copy.user, copy.group, copy.mode) == ("root", "turnserver", 0o640)
    assert host.file(KEY).mode == 0o600
    assert host.run(f"runuser -u turnserver -- cat {KEY}").rc != 0


# --- TURN allocations ----------------------------------------------------------------------------


def test_allocation_over_udp_relays_every_packet(host):
    assert lost_packets(uclient(host, "-y -p 443")) == 0


def test_allocation_over_tcp_relays_every_packet(host):
    assert lost_packets(uclient(host, "-y -t -p 443")) == 0


def test_allocation_over_tls_relays_every_packet(host):
    # turnutils_uclient hangs over TLS-on-TCP once no-tlsv1/no-tlsv1_1 are set (coturn issue
    # 376, checked here on 4.6.1) although TLS 1.2 and 1.3 clients work: so this test is a real
    # TLS client (aioice, Python's ssl) that allocates with REST credentials and sends through
    # the relay to turnutils_peer, an echo server on the container's (allowed) own address.
    ip = own_address(host)
    host.check_output(f"setsid -f timeout 60 turnutils_peer -L {ip} -p {PEER_PORT} >/dev/null 2>&1")
    relayed, received = relay_over_tls(secret(host), ip, 5349, (ip, PEER_PORT))
    assert relayed[0] == ip
    assert received == [b"talkdeploy-%d" % i for i in range(5)]


def test_wrong_secret_is_refused_over_tls(host):
    with pytest.raises(TransactionFailed, match="401"):
        relay_over_tls("0" * 64, own_address(host), 5349, (own_address(host), PEER_PORT))


def test_allocation_over_dtls_relays_every_packet(host):
    # turnutils_uclient -S without -t: DTLS on the TLS port.
    assert lost_packets(uclient(host, "-y -S -z 50 -p 5349")) == 0


def test_wrong_secret_is_refused(host):
    wrong = "0" * 64
    assert wrong != secret(host)
    output = uclient(host, "-y -p 443", key=wrong)
    assert "Cannot complete Allocation" in output
    assert not LOSS.search(output)


@pytest.mark.parametrize("peer", ["127.0.0.1", "10.0.0.1"])
def test_relay_to_denied_peer_is_refused(host, peer):
    output = uclient(host, f"-e {peer} -p 443")
    assert "403 (Forbidden IP)" in output, output[-1500:]


def test_package_upgrade_keeps_the_capability(host):
    # A (re)installed package replaces the binary and drops its capability; the apt hook gives
    # it back and starts coturn again (the restart in the package's postinst fails on 443).
    if method(host) != "setcap":
        pytest.skip("the apt hook belongs to the setcap method")
    reinstall = host.run(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall"
        " -o Dpkg::Options::=--force-confold coturn"
    )
    assert reinstall.rc == 0, reinstall.stderr
    assert "cap_net_bind_service=ep" in host.check_output("getcap /usr/bin/turnserver")
    host.run("for i in $(seq 20); do systemctl is-active --quiet coturn && break; sleep 1; done")
    assert host.service("coturn").is_running
    assert lost_packets(uclient(host, "-y -p 443")) == 0
