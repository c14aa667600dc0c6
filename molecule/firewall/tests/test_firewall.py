"""The firewall role, proven from a second container (the client) against each backend.

Every test runs once per TURN server (ufw, firewalld, nftables on Debian 12, nftables on
Debian 13) and probes it from fw-client over the scenario network. "Blocked" is always shown
against a listener that answers on the server itself, so a closed port cannot pass for a
filtered one. The first verify runs after converge; the second after side_effect.yml moved
coturn_listening_port, added operator rules and rebooted the servers (phase "moved").
"""

import ipaddress
import os
import re

import pytest
import testinfra

SECRET = "fwtest-secret"  # prepare.yml's test turnserver.conf
UNOPENED_TCP_PORT = 8080  # a listener runs there; the role must not open it
OUTSIDE_RELAY_UDP_PORT = 40000  # a UDP echo runs there, below the relay range
OPERATOR_PORT = 9999  # side_effect.yml's rule of the operator's own
IPV6_SOURCE = "2001:db8::/32"  # molecule.yml's firewall_turn_sources besides the client
IPV6_NETWORK = ipaddress.ip_network("fd42:7a1c:f1e0::/64")  # prepare.yml's IPv6 network
UCLIENT_TIMEOUT = 30


@pytest.fixture(scope="module")
def client():
    return testinfra.get_host(
        "ansible://fw-client", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )


@pytest.fixture(scope="module")
def server_vars(host):
    variables = host.ansible.get_variables()
    if "turn_servers" not in variables["group_names"]:
        pytest.skip("the client is the prober, not a firewall under test")
    return variables


@pytest.fixture(scope="module")
def moved(client):
    marker = client.file("/etc/fwtest-phase")
    return marker.exists and marker.content_string.strip() == "moved"


@pytest.fixture(scope="module")
def restricted(server_vars, moved):
    """Whether firewall_turn_sources (the client and IPV6_SOURCE) applies in this phase."""
    return ("moved" if moved else "initial") in server_vars["fwtest_restricted_in"]


def global_addresses(machine):
    listing = machine.check_output("ip -o addr show scope global")
    return [ipaddress.ip_interface(line.split()[3]) for line in listing.splitlines()]


@pytest.fixture(scope="module")
def client_interface(client):
    """The client's address on the scenario network (eth0 since create; molecule.yml's
    firewall_turn_sources names it). The client never reboots, so eth0 stays that network."""
    eth0 = client.check_output("ip -o -4 addr show dev eth0").split()[3]
    return ipaddress.ip_interface(eth0)


@pytest.fixture(scope="module")
def client_ip(client_interface):
    return str(client_interface.ip)


@pytest.fixture(scope="module")
def sibling(server_vars):
    """Another TURN server, which is never among firewall_turn_sources: a second prober."""
    name = next(
        n
        for n in sorted(server_vars["groups"]["turn_servers"])
        if n != server_vars["inventory_hostname"]
    )
    return testinfra.get_host(
        f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"]
    )


@pytest.fixture(scope="module")
def ports(server_vars, moved):
    initial, spare = server_vars["coturn_listening_port"], server_vars["fwtest_moved_port"]
    return {
        "turn": spare if moved else initial,
        "closed": initial if moved else spare,
        "tls": server_vars["coturn_tls_listening_port"],
        "relay_echo": server_vars["coturn_max_port"] - 1,
    }


@pytest.fixture(scope="module")
def address(host, server_vars, client_interface):
    """The server's IPv4 address on the scenario network (the subnet the client is on).

    Chosen by subnet, not interface name: after the reboot Docker may number them differently.
    """
    found = [i.ip for i in global_addresses(host) if i.ip in client_interface.network]
    assert len(found) == 1, found
    return str(found[0])


@pytest.fixture(scope="module")
def address6(host, server_vars):
    """The server's address on prepare.yml's IPv6 network."""
    found = [i.ip for i in global_addresses(host) if i.ip in IPV6_NETWORK]
    assert len(found) == 1, found
    return str(found[0])


def probe(machine, kind, address, port):
    return machine.run(f"fwtest-probe {kind} {address} {port}")


def uclient(client, address, port, *flags):
    """Run a TURN client-to-client session (-y: two allocations relaying to each other).

    Packet loss does not change turnutils_uclient's exit code (docs/facts.md, coturn), so the
    summary is parsed: returns (command, messages sent, messages received).
    """
    cmd = client.run(
        f"timeout {UCLIENT_TIMEOUT} turnutils_uclient {' '.join(flags)} -y -n 3 -m 1 -l 120 "
        f"-W {SECRET} -p {port} {address}"
    )
    counts = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", cmd.stdout)
    sent, received = (int(n) for n in counts[-1]) if counts else (0, 0)
    return cmd, sent, received


def assert_blocked(host, client, kind, address, port):
    local = probe(host, kind, "127.0.0.1", port)
    assert local.rc == 0, f"test listener {kind}/{port} is not running: {local.stderr}"
    remote = probe(client, kind, address, port)
    assert remote.rc != 0, f"{kind}/{port} answered the client: {remote.stdout}"


def test_turn_allocation_over_udp_succeeds_from_the_client(client, address, ports):
    cmd, sent, received = uclient(client, address, ports["turn"])
    assert cmd.rc == 0, cmd.stdout[-800:] + cmd.stderr
    assert sent > 0, cmd.stdout[-800:]
    assert received == sent, cmd.stdout[-800:]


def test_turn_allocation_over_tcp_succeeds_from_the_client(client, address, ports):
    cmd, sent, received = uclient(client, address, ports["turn"], "-t")
    assert cmd.rc == 0, cmd.stdout[-800:] + cmd.stderr
    assert sent > 0, cmd.stdout[-800:]
    assert received == sent, cmd.stdout[-800:]


def test_tls_port_completes_a_tls_handshake(client, address, ports):
    handshake = probe(client, "tls", address, ports["tls"])
    assert handshake.rc == 0, handshake.stderr
    assert handshake.stdout.startswith("TLSv1"), handshake.stdout


def test_udp_into_the_relay_range_gets_through(client, address, ports):
    echo = probe(client, "udp", address, ports["relay_echo"])
    assert echo.rc == 0, echo.stderr


def test_udp_below_the_relay_range_is_blocked(host, client, address, server_vars):
    assert_blocked(host, client, "udp", address, OUTSIDE_RELAY_UDP_PORT)


def test_port_the_role_did_not_open_is_blocked(host, client, address, server_vars):
    assert_blocked(host, client, "tcp", address, UNOPENED_TCP_PORT)


@pytest.mark.parametrize("kind", ["tcp", "udp"])
def test_the_other_listening_port_is_blocked(host, client, address, ports, kind):
    """Before the move: the future port is still closed. After it: the old port was closed."""
    assert_blocked(host, client, kind, address, ports["closed"])


def test_turn_ports_answer_over_ipv6(client, address6, ports, restricted):
    """Over IPv6 too; with sources set, the client's IPv6 address is not among them."""
    for kind, port in (("tcp", ports["turn"]), ("tcp", ports["tls"]), ("udp", ports["relay_echo"])):
        reached = probe(client, kind, address6, port)
        if restricted:
            assert reached.rc != 0, f"{kind}/{port} over IPv6 answered a client outside the sources"
        else:
            assert reached.rc == 0, reached.stderr


def test_port_the_role_did_not_open_is_blocked_over_ipv6(host, client, address6, server_vars):
    local = probe(host, "tcp", "::1", UNOPENED_TCP_PORT)
    assert local.rc == 0, f"test listener tcp/{UNOPENED_TCP_PORT} is not running: {local.stderr}"
    remote = probe(client, "tcp", address6, UNOPENED_TCP_PORT)
    assert remote.rc != 0, f"tcp/{UNOPENED_TCP_PORT} answered the client over IPv6: {remote.stdout}"


def test_ssh_stays_reachable(client, address, server_vars):
    banner = probe(client, "tcp", address, server_vars.get("ansible_port", 22))
    assert banner.rc == 0, banner.stderr
    assert banner.stdout.startswith("SSH-2.0-"), banner.stdout


def test_firewall_is_the_requested_backend_and_starts_at_boot(host, server_vars):
    backend = server_vars["firewall_backend"]
    if backend == "ufw":
        assert "Status: active" in host.check_output("ufw status")
        assert host.service("ufw").is_enabled
    elif backend == "firewalld":
        assert host.service("firewalld").is_running
        assert host.service("firewalld").is_enabled
    else:
        assert host.service("nftables").is_enabled
        assert (
            'include "/etc/nftables.d/talkdeploy.nft"'
            in host.file("/etc/nftables.conf").content_string
        )


def test_turn_sources_decide_who_reaches_the_turn_ports(host, address, ports, restricted, sibling):
    """A sibling server is not among the sources: it is refused only while sources are set."""
    for kind, port in (("tcp", ports["turn"]), ("udp", ports["relay_echo"])):
        reached = probe(sibling, kind, address, port)
        if restricted:
            assert reached.rc != 0, f"{kind}/{port} answered a host outside the sources"
        else:
            assert reached.rc == 0, f"{kind}/{port} refused a host although sources are empty"


def test_managed_rules_name_exactly_the_turn_ports_for_ipv4_and_ipv6(
    host, server_vars, ports, restricted, client_ip
):
    backend = server_vars["firewall_backend"]
    relay = f"{server_vars['coturn_min_port']}-{server_vars['coturn_max_port']}"
    turn, tls, closed = ports["turn"], ports["tls"], ports["closed"]
    specs = [f"{turn}/udp", f"{turn}/tcp", f"{tls}/tcp", f"{tls}/udp", f"{relay}/udp"]
    sources = [client_ip, IPV6_SOURCE] if restricted else ["Anywhere", "Anywhere (v6)"]
    if backend == "ufw":
        rules = host.check_output("ufw status")
        for spec in specs:
            port, proto = spec.replace("-", ":").split("/")
            for source in sources:
                suffix = " (v6)" if source == "Anywhere (v6)" else ""
                rule = rf"{port}/{proto}{re.escape(suffix)}\s+ALLOW\s+{re.escape(source)}"
                line = rf"^{rule}\s+# talkdeploy-turn$"
                assert re.search(line, rules, re.M), (line, rules)
        assert len(re.findall("# talkdeploy-turn$", rules, re.M)) == len(specs) * 2, rules
        assert f"{closed}/" not in rules
    elif backend == "firewalld":
        zone = host.check_output("firewall-cmd --get-default-zone")
        services = host.check_output(f"firewall-cmd --zone={zone} --list-services").split()
        rich = host.check_output(f"firewall-cmd --zone={zone} --list-rich-rules").splitlines()
        service = host.check_output("firewall-cmd --info-service=talkdeploy-turn")
        assert sorted(re.search(r"ports: (.*)", service).group(1).split()) == sorted(specs)
        if restricted:
            assert "talkdeploy-turn" not in services
            assert sorted(rich) == sorted(
                f'rule family="{family}" source address="{source}" '
                'service name="talkdeploy-turn" accept'
                for family, source in (("ipv4", client_ip), ("ipv6", IPV6_SOURCE))
            )
        else:
            assert "talkdeploy-turn" in services  # a zone service covers IPv4 and IPv6
            assert not [rule for rule in rich if "talkdeploy-turn" in rule]
    else:
        table = host.check_output("nft list table inet talkdeploy")  # inet = IPv4 and IPv6
        assert "policy drop" in table
        udp, tcp = rf"udp dport {{ {turn}, {tls}, {relay} }}", rf"tcp dport {{ {turn}, {tls} }}"
        if restricted:
            for match in (rf"ip saddr {re.escape(client_ip)} ", rf"ip6 saddr {IPV6_SOURCE} "):
                assert re.search(match + udp + " accept", table), table
                assert re.search(match + tcp + " accept", table), table
        else:
            assert re.search(rf"^\s*{udp} accept", table, re.M), table
            assert re.search(rf"^\s*{tcp} accept", table, re.M), table
        assert re.search(rf"\b{closed}\b", table) is None


def test_rules_of_the_operator_survive(host, server_vars, moved):
    if not moved:
        pytest.skip("side_effect.yml adds the operator's rule")
    backend = server_vars["firewall_backend"]
    if backend == "ufw":
        assert f"{OPERATOR_PORT}/tcp" in host.check_output("ufw status")
    elif backend == "firewalld":
        assert f"{OPERATOR_PORT}/tcp" in host.check_output("firewall-cmd --list-ports")
    else:
        assert f"tcp dport {OPERATOR_PORT}" in host.check_output("nft list table inet operator")
