"""Re-runs of the converge playbook with other settings, on every host of the scenario at once.

These tests change the hosts, so they run after test_coturn.py (pytest takes modules in name
order) and in the order written here: check mode, renewed certificate, broken option, no
privileged port. Each test takes no `host` fixture (it runs once and covers both hosts), and
every run's captured output is searched for the secret, which must never appear.
"""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

CONF = "/etc/turnserver.conf"
CERT = "/etc/ssl/talkdeploy-test/turn.crt"
KEY = "/etc/ssl/talkdeploy-test/turn.key"
CONVERGE = Path(__file__).resolve().parent.parent / "converge.yml"
LOSS = re.compile(r"Total lost packets (\d+) \(")


@pytest.fixture(scope="module")
def hosts():
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    found = testinfra.get_hosts(["ansible://all"], ansible_inventory=inventory)
    return {h.ansible.get_variables()["inventory_hostname"]: h for h in found}


def secret(host):
    for line in host.file(CONF).content_string.splitlines():
        if line.startswith("static-auth-secret="):
            return line.split("=", 1)[1]
    raise AssertionError("no static-auth-secret in turnserver.conf")


def own_address(host):
    return host.check_output("hostname -I").split()[0]


def main_pid(host):
    return host.check_output("systemctl show -p MainPID --value coturn")


def converge(*extra):
    """Re-run the scenario's converge playbook on all hosts; returns (rc, output)."""
    done = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(CONVERGE), *extra],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
        timeout=900,
    )
    return done.returncode, done.stdout + done.stderr


def recap(output, name):
    match = re.search(rf"^{re.escape(name)}\s*:.*?changed=(\d+).*?failed=(\d+)", output, re.M)
    assert match, output[-3000:]
    return {"changed": int(match.group(1)), "failed": int(match.group(2))}


def udp_relay_loss(host, port):
    result = host.run(
        f"cd /tmp && timeout 40 turnutils_uclient -y -p {port} -W {secret(host)} -n 10 -m 1"
        f" {own_address(host)}"
    )
    match = LOSS.search(result.stdout + result.stderr)
    assert match, (result.stdout + result.stderr)[-1500:]
    return int(match.group(1))


def assert_secrets_not_in(hosts, output):
    for host in hosts.values():
        assert secret(host) not in output


def test_check_mode_on_the_converged_hosts_changes_nothing(hosts):
    rc, output = converge("--check", "--diff")
    assert rc == 0, output[-3000:]
    for name in hosts:
        assert recap(output, name) == {"changed": 0, "failed": 0}
    assert_secrets_not_in(hosts, output)


def served_fingerprint(host):
    return host.run(
        f"echo | openssl s_client -connect {own_address(host)}:5349 2>/dev/null"
        " | openssl x509 -noout -fingerprint -sha256"
    ).stdout


def test_renewed_certificate_is_reloaded_without_restart_or_run(hosts):
    # talkdeploy-coturn-tls.path sees the new pair and reloads coturn (tasks/tls_watch.yml);
    # the converge afterwards finds the copies current.
    pids = {name: main_pid(host) for name, host in hosts.items()}
    for host in hosts.values():
        host.check_output(
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
            f" -subj /CN=renewed -keyout {KEY} -out {CERT} 2>/dev/null && chmod 0600 {KEY}"
        )
    for name, host in hosts.items():
        renewed = host.check_output(f"openssl x509 -noout -fingerprint -sha256 -in {CERT}")
        deadline = time.monotonic() + 20
        while served_fingerprint(host).strip() != renewed and time.monotonic() < deadline:
            time.sleep(0.5)
        assert served_fingerprint(host).strip() == renewed, name
        assert main_pid(host) == pids[name], "coturn was restarted instead of reloaded"
    rc, output = converge()
    assert rc == 0, output[-3000:]
    for name, host in hosts.items():
        assert recap(output, name) == {"changed": 0, "failed": 0}
        assert main_pid(host) == pids[name]
    assert_secrets_not_in(hosts, output)


def test_broken_option_keeps_the_previous_config_running(hosts):
    before = {name: host.file(CONF).sha256sum for name, host in hosts.items()}
    # A boolean option with a value coturn cannot parse makes turnserver 4.6.1 exit at start
    # (src/apps/relay/mainrelay.c get_bool_value: "Unknown boolean value"). mobility is an
    # option talkdeploy neither writes nor refuses, so only coturn itself can reject it.
    rc, output = converge("-e", '{"coturn_extra_options": {"mobility": "maybe"}}')
    assert rc != 0
    assert "Unknown boolean value: maybe" in output  # coturn's own words reach the operator
    assert "previous turnserver.conf was restored" in output
    assert_secrets_not_in(hosts, output)
    for name, host in hosts.items():
        assert recap(output, name)["failed"] == 1
        assert host.file(CONF).sha256sum == before[name]
        assert host.service("coturn").is_running
        assert udp_relay_loss(host, 443) == 0


def test_privilege_is_removed_when_no_port_is_below_1024(hosts):
    rc, output = converge("-e", "coturn_listening_port=3478")
    assert rc == 0, output[-3000:]
    for host in hosts.values():
        assert host.run("getcap /usr/bin/turnserver").stdout.strip() == ""
        assert not host.file("/etc/apt/apt.conf.d/80talkdeploy-coturn-setcap").exists
        dropin = "/etc/systemd/system/coturn.service.d/talkdeploy-privileged-port.conf"
        assert not host.file(dropin).exists
        assert host.check_output("ps -o user= -C turnserver").split() == ["turnserver"]
        assert udp_relay_loss(host, 3478) == 0
    assert_secrets_not_in(hosts, output)
