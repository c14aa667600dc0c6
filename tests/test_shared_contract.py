"""The contract between the roles and the Python they share with the CLI (plugins/module_utils).

Each role's variables are checked by one table in the collection: the table, the role's
defaults/main.yml and its meta/argument_specs.yml name the same variables, the defaults pass
their own checks, and the role's first task is the check. A variable added to a role without
a check, or a check left behind for a removed variable, fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import talkdeploy.shared
from talkdeploy.resources import locate

talkdeploy.shared.enable()

from ansible_collections.talkdeploy.talk.plugins.module_utils import (  # noqa: E402
    coturn,
    firewall,
    talk,
)

ROOT = locate().root
TABLES = {"coturn": coturn, "firewall": firewall, "nextcloud_talk": talk}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("role", list(TABLES))
def test_check_table_defaults_and_argument_spec_name_the_same_variables(role: str) -> None:
    defaults = set(_yaml(ROOT / "roles" / role / "defaults" / "main.yml"))
    spec = _yaml(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
    specified = set(spec["main"]["options"])
    assert TABLES[role].VARIABLES == defaults == specified


@pytest.mark.parametrize("role", list(TABLES))
def test_the_role_checks_its_variables_before_anything_else(role: str) -> None:
    first_file = {
        "coturn": "endpoint.yml",
        "firewall": "main.yml",
        "nextcloud_talk": "validate.yml",
    }
    main = _yaml(ROOT / "roles" / role / "tasks" / "main.yml")
    tasks = _yaml(ROOT / "roles" / role / "tasks" / first_file[role])
    if role != "firewall":
        assert first_file[role] in str(main[0])  # imported first
    assert tasks[0]["talkdeploy.talk.check_settings"] == {"role": role}


def _literal_defaults(role: str) -> dict[str, Any]:
    defaults = _yaml(ROOT / "roles" / role / "defaults" / "main.yml")
    return {k: v for k, v in defaults.items() if "{{" not in str(v)}


def test_coturn_defaults_pass_their_own_check() -> None:
    values = _literal_defaults("coturn") | {
        "coturn_public_name": "turn.example.org",
        "coturn_realm": "turn.example.org",
    }
    report = coturn.check(values, coturn.Context(22, ("turn_servers",)))
    assert report.findings == []
    # the default deny list is written exactly as the role's defaults spell it
    assert report.settings["coturn_denied_peer_ips"] == values["coturn_denied_peer_ips"]


def test_firewall_and_talk_defaults_pass_their_own_check() -> None:
    values = _literal_defaults("firewall") | {"firewall_ssh_port": 22}
    assert firewall.check(values).findings == []
    assert talk.check(_literal_defaults("nextcloud_talk")).findings == []


def test_endpoint_and_firewall_ports_follow_the_checked_settings() -> None:
    values = _literal_defaults("coturn") | {
        "coturn_public_name": "turn.example.org",
        "coturn_realm": "turn.example.org",
        "coturn_cert": "/etc/ssl/turn.pem",
        "coturn_pkey": "/etc/ssl/turn.key",
        "coturn_listening_port": "3478",  # a string, as -e gives it
    }
    endpoint = coturn.endpoint(coturn.check(values).settings)
    assert endpoint["listening_port"] == 3478 and endpoint["tls_listening_port"] == 5349
    assert firewall.turn_ports(endpoint) == [
        "3478/udp",
        "3478/tcp",
        "5349/tcp",
        "5349/udp",
        "49152-65535/udp",
    ]


def test_a_value_that_cannot_be_templated_is_named_by_the_role(tmp_path: Path) -> None:
    """The role's check reports the key, not a crash of its own (the endpoint touches no host)."""
    import os
    import subprocess
    import sys

    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role:\n"
        "        name: talkdeploy.talk.coturn\n        tasks_from: endpoint\n"
    )
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(playbook),
            "-e",
            '{"coturn_realm": "{{ undefined_thing }}"}',
        ],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(locate().collections_path),
            "ANSIBLE_NOCOLOR": "1",
        },
        check=False,
        timeout=120,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "coturn_realm cannot be templated: 'undefined_thing' is undefined" in output
    assert "Traceback" not in output and "FileNotFoundError" not in output


def test_install_kinds_are_one_list_with_an_occ_preset_each() -> None:
    spec = _yaml(ROOT / "roles" / "nextcloud_talk" / "meta" / "argument_specs.yml")
    option = spec["argument_specs"]["main"]["options"]["talk_nextcloud_install"]
    presets = _yaml(ROOT / "roles" / "nextcloud_talk" / "vars" / "main.yml")["talk_occ_presets"]
    assert tuple(option["choices"]) == talk.INSTALL_KINDS
    assert tuple(presets) == talk.INSTALL_KINDS
    assert talkdeploy.shared.INSTALL_KINDS is talk.INSTALL_KINDS  # init and the scaffold use it
