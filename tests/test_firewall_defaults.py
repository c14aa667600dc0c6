"""roles/firewall opens what roles/coturn's variables imply, through the coturn role's endpoint.

When the coturn role did not run in the play, the firewall role computes coturn_endpoint with
the coturn role's own `endpoint` entry point. These tests run the real roles through
ansible-playbook on localhost (no host is touched: firewall_backend is none).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from talkdeploy.resources import locate

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = locate().collections_path


# host name -> (variables, ports the firewall must open)
CASES: dict[str, tuple[dict[str, object], list[str]]] = {
    "coturn_defaults_without_tls": ({}, ["443/udp", "443/tcp", "49152-65535/udp"]),
    "tls_and_dtls_with_a_certificate": (
        {"coturn_cert": "/c.pem", "coturn_pkey": "/k.pem", "coturn_listening_port": 3478},
        ["3478/udp", "3478/tcp", "5349/tcp", "5349/udp", "49152-65535/udp"],
    ),
    "no_udp_no_dtls_moves_nothing_else": (
        {
            "coturn_cert": "/c.pem",
            "coturn_pkey": "/k.pem",
            "coturn_no_udp": True,
            "coturn_no_dtls": True,
            "coturn_min_port": 50000,
            "coturn_max_port": 50100,
        },
        ["443/tcp", "5349/tcp", "50000-50100/udp"],
    ),
    "no_tcp_no_tls": (
        {
            "coturn_cert": "/c.pem",
            "coturn_pkey": "/k.pem",
            "coturn_no_tcp": True,
            "coturn_no_tls": True,
        },
        ["443/udp", "5349/udp", "49152-65535/udp"],
    ),
    "coturn_endpoint_fact_wins_over_variables": (
        {
            "coturn_listening_port": 1,
            "coturn_endpoint": {
                "public_name": "turn.example.org",
                "listening_port": 8443,
                "tls_listening_port": None,
                "min_port": 40000,
                "max_port": 40010,
                "udp": True,
                "tcp": False,
                "tls": False,
                "dtls": False,
            },
        },
        ["8443/udp", "40000-40010/udp"],
    ),
}


@pytest.fixture(scope="module")
def derived_ports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    work = tmp_path_factory.mktemp("firewall-ports")
    inventory = {
        "all": {
            "hosts": {
                name: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                | variables
                for name, (variables, _) in CASES.items()
            }
        }
    }
    (work / "inventory.yml").write_text(json.dumps(inventory))
    (work / "play.yml").write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Firewall ports are derived",
                    "hosts": "all",
                    "gather_facts": False,
                    "vars": {"firewall_backend": "none"},
                    "roles": ["talkdeploy.talk.firewall"],
                    "post_tasks": [
                        {
                            "name": "Ports are written",
                            "delegate_to": "localhost",
                            "ansible.builtin.copy": {
                                "dest": f"{work}/{{{{ inventory_hostname }}}}.json",
                                "content": "{{ firewall_turn_ports | to_json }}",
                                "mode": "0644",
                            },
                        }
                    ],
                }
            ]
        )
    )
    env = os.environ | {"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_NOCOLOR": "1"}
    bin_dir = Path(sys.executable).parent
    run = subprocess.run(
        [
            str(bin_dir / "ansible-playbook"),
            "-i",
            str(work / "inventory.yml"),
            str(work / "play.yml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {name: json.loads((work / f"{name}.json").read_text()) for name in CASES}


@pytest.mark.parametrize("case", list(CASES))
def test_firewall_opens_what_the_coturn_variables_imply(
    derived_ports: dict[str, list[str]], case: str
) -> None:
    assert derived_ports[case] == CASES[case][1]
