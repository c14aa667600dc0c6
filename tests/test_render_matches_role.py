"""`talkdeploy render` writes the same bytes as the coturn role, and the model's endpoint is
the role's coturn_endpoint.

For each inventory, ansible-playbook runs the REAL role task files against the inventory
host over a local connection: tasks/version.yml (version and gates, from a faked package
database answer, coturn__state), tasks/endpoint.yml (the settings check and the endpoint) and
tasks/config.yml, whose
ansible.builtin.template writes turnserver.conf into a temporary directory instead of
/etc. The CLI renders the same inventory; both files must be byte-identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from inventory_factory import CLOUD, GOOD_SECRET, REAL_ROLES, ROOT, TURN, write_inventory

from talkdeploy.inventory import load
from talkdeploy.model import build
from talkdeploy.render import turnserver_conf
from talkdeploy.resources import locate

COLLECTIONS = locate().collections_path

PLAYBOOK = """\
- name: The coturn role's own tasks write turnserver.conf locally
  hosts: turn_servers
  gather_facts: false
  tasks:
    - name: Platform variables as platform.yml loads them on Debian
      ansible.builtin.include_vars: "{{ roles_dir }}/coturn/vars/Debian.yml"
    - name: Version facts and gates
      ansible.builtin.include_role:
        name: talkdeploy.talk.coturn
        tasks_from: version
    - name: Effective secret (what tasks/secret.yml settles)
      ansible.builtin.set_fact:
        coturn_static_auth_secret: "{{ effective_secret }}"
    - name: Endpoint fact
      ansible.builtin.include_role:
        name: talkdeploy.talk.coturn
        tasks_from: endpoint
    - name: Endpoint written for comparison
      ansible.builtin.copy:
        content: "{{ coturn_endpoint | to_json }}"
        dest: "{{ out_dir }}/endpoint.json"
        mode: "0600"
    - name: Configuration written by the role
      ansible.builtin.include_role:
        name: talkdeploy.talk.coturn
        tasks_from: config
"""

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "defaults": ({}, "4.6.1"),
    "tls_extra_options_and_nat": (
        {
            "coturn_cert": "/etc/letsencrypt/live/turn/fullchain.pem",
            "coturn_pkey": "/etc/letsencrypt/live/turn/privkey.pem",
            "coturn_listening_port": 3478,
            "coturn_external_ips": ["203.0.113.5/10.0.0.5"],
            "coturn_allowed_peer_ips": ["10.0.0.20"],
            "coturn_extra_options": {
                "max-allocate-lifetime": 1800,
                "no-rfc5780": True,
                "no-software-attribute": False,
                "mobility": None,
                "user-quota": [10, 12],
            },
            "coturn_verbosity": "verbose",
            "coturn_max_bps": 500000,
        },
        "4.6.1",
    ),
    "tcp_only_dtls_off_newer_coturn": (
        {
            "coturn_no_udp": True,
            "coturn_cert": "/c.pem",
            "coturn_pkey": "/k.pem",
            "coturn_no_dtls": True,
            "coturn_additional_static_auth_secrets": ["ab" * 20],
            "coturn_log_file": "/var/log/turn.log",
        },
        "4.10.0",
    ),
    "older_coturn_gates": ({"coturn_realm": "talk.example.org"}, "4.5.0.9"),
}


def _as_root() -> bool:
    return os.geteuid() == 0


@pytest.mark.skipif(not _as_root(), reason="the role's template task sets owner root")
@pytest.mark.parametrize("case", list(CASES))
def test_render_is_byte_identical_to_the_role(tmp_path: Path, case: str) -> None:
    values, version = CASES[case]
    values = {**values, "coturn_static_auth_secret": GOOD_SECRET}
    host_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = write_inventory(
        tmp_path / "inventory",
        groups={"turn_servers": {TURN: host_vars}, "nextcloud": {CLOUD: None}},
        group_vars={"turn_servers": values},
    )
    out = tmp_path / "out"
    out.mkdir()
    playbook = tmp_path / "role.yml"
    playbook.write_text(PLAYBOOK)
    extra = {
        "roles_dir": str(REAL_ROLES),
        "out_dir": str(out),
        "effective_secret": GOOD_SECRET,
        "coturn__state": {
            # what dpkg reports; version.yml derives the upstream version from it
            "packages": {"coturn": f"{version}-1+deb12u1"},
            "paths": {"/etc/systemd/system/talkdeploy-coturn-restart.timer": False},
            # the host has no turnserver.conf yet (read_state.py reports absent files as None)
            "files": {str(out / "turnserver.conf"): None},
        },
        "coturn_os_config_path": str(out / "turnserver.conf"),
        "coturn_os_group": "root",
    }
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            str(playbook),
            "-e",
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_NOCOLOR": "1"},
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert GOOD_SECRET not in run.stdout + run.stderr  # the role's no_log holds

    deployment, _problems = build(load(inventory, roles_dir=REAL_ROLES))
    rendered = turnserver_conf(deployment, TURN, coturn_version=version, show_secrets=True)
    written = (out / "turnserver.conf").read_bytes()
    assert rendered.encode() == written
    assert f"static-auth-secret={GOOD_SECRET}\n".encode() in written  # a real comparison
    role_endpoint = json.loads((out / "endpoint.json").read_text())
    assert deployment.turn_server(TURN).endpoint() == role_endpoint


def test_masked_render_hides_the_secret(tmp_path: Path) -> None:
    inventory = write_inventory(
        tmp_path / "inventory",
        group_vars={"turn_servers": {"coturn_static_auth_secret": GOOD_SECRET}},
    )
    deployment, _ = build(load(inventory, roles_dir=REAL_ROLES))
    masked = turnserver_conf(deployment, TURN)
    assert GOOD_SECRET not in masked
    assert "static-auth-secret=********\n" in masked
    assert f"static-auth-secret={GOOD_SECRET}\n" in turnserver_conf(
        deployment, TURN, show_secrets=True
    )


def test_version_gates_follow_the_coturn_version(tmp_path: Path) -> None:
    inventory = write_inventory(tmp_path / "inventory")
    deployment, _ = build(load(inventory, roles_dir=REAL_ROLES))
    old = turnserver_conf(deployment, TURN, coturn_version="4.5.0.7").splitlines()
    debian = turnserver_conf(deployment, TURN, coturn_version="4.6.1").splitlines()
    new = turnserver_conf(deployment, TURN, coturn_version="4.10.0").splitlines()
    assert "lt-cred-mech" in old and "lt-cred-mech" not in debian
    assert "no-loopback-peers" in old and "no-loopback-peers" not in debian
    assert "no-tlsv1" in debian and "no-tlsv1" not in new
    assert "no-cli" in debian and "no-cli" not in new
