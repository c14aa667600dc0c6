"""The inventory model: loaded as Ansible loads it, typed, with origins and vault support."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from inventory_factory import CLOUD, GOOD_SECRET, REAL_ROLES, TURN, write_inventory

from talkdeploy.inventory import InventoryError, find_origin, load
from talkdeploy.model import build

ANSIBLE_VAULT = str(Path(sys.executable).parent / "ansible-vault")


def test_model_exposes_the_documented_fields(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv",
        groups={
            "turn_servers": {
                TURN: {"ansible_host": "198.51.100.4"},
                "turn2.example.org": {"talkdeploy_probe_address": "127.0.0.1"},
                "turn3.example.org": None,
            },
            "nextcloud": {CLOUD: None},
        },
        group_vars={"turn_servers": {"coturn_listening_port": 3478}},
        host_vars={TURN: {"coturn_static_auth_secret": GOOD_SECRET}},
    )
    deployment, problems = build(load(root, roles_dir=REAL_ROLES))
    assert problems == []
    first, second, third = deployment.turn_servers
    assert (first.name, first.address, first.public_name) == (TURN, "198.51.100.4", TURN)
    assert second.address == "127.0.0.1"  # talkdeploy_probe_address wins over everything
    assert third.address == "turn3.example.org"  # falls back to the public name
    assert first.listening_port == 3478 and first.tls_listening_port is None
    assert (first.min_port, first.max_port) == (49152, 65535)
    assert (first.udp, first.tcp, first.tls, first.dtls) == (True, True, False, False)
    assert (first.secret, first.secret_source) == (GOOD_SECRET, "inventory")
    assert (second.secret, second.secret_source) == (None, "host")
    # role defaults merged under the inventory, templated for the host
    assert first.variables["coturn_realm"] == TURN
    assert first.variables["coturn_min_port"] == 49152
    (cloud,) = deployment.nextcloud_hosts
    assert cloud.variables["talk_nextcloud_install"] == "bare"
    assert cloud.expected_turn_entries == [
        {
            "schemes": "turn",
            "server": f"{TURN}:3478",
            "secret": GOOD_SECRET,
            "protocols": "udp,tcp",
        },
        {"schemes": "turn", "server": "turn2.example.org:3478", "protocols": "udp,tcp"},
        {"schemes": "turn", "server": "turn3.example.org:3478", "protocols": "udp,tcp"},
    ]


def test_tls_endpoint_offers_turns(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv",
        group_vars={"turn_servers": {"coturn_cert": "/c.pem", "coturn_pkey": "/k.pem"}},
    )
    deployment, _ = build(load(root, roles_dir=REAL_ROLES))
    (server,) = deployment.turn_servers
    assert (server.tls, server.dtls, server.tls_listening_port) == (True, True, 5349)
    assert deployment.nextcloud_hosts[0].expected_turn_entries[0]["schemes"] == "turn,turns"


def test_inventory_templates_are_resolved_like_ansible(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv",
        group_vars={
            "all": {"base_domain": "example.org"},
            "turn_servers": {"coturn_public_name": "turn.{{ base_domain }}"},
        },
        groups={"turn_servers": {"t1": None}, "nextcloud": {CLOUD: None}},
    )
    deployment, problems = build(load(root, roles_dir=REAL_ROLES))
    assert problems == []
    assert deployment.turn_servers[0].public_name == "turn.example.org"
    assert deployment.turn_servers[0].variables["coturn_realm"] == "turn.example.org"


def _vault_password(tmp_path: Path) -> Path:
    password = tmp_path / "vault-pass"
    password.write_text("correct horse\n")
    return password


def _encrypt_string(password: Path, value: str, name: str) -> str:
    return subprocess.run(
        [
            ANSIBLE_VAULT,
            "encrypt_string",
            "--vault-password-file",
            str(password),
            value,
            "--name",
            name,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_vault_encrypted_secret_is_decrypted_with_the_password(tmp_path: Path) -> None:
    password = _vault_password(tmp_path)
    root = write_inventory(tmp_path / "inv")
    (root / "group_vars" / "turn_servers").mkdir(parents=True)
    (root / "group_vars" / "turn_servers" / "vault.yml").write_text(
        _encrypt_string(password, GOOD_SECRET, "coturn_static_auth_secret")
    )
    deployment, problems = build(load(root, vault_password_file=password, roles_dir=REAL_ROLES))
    assert problems == []
    assert deployment.turn_servers[0].secret == GOOD_SECRET
    assert deployment.nextcloud_hosts[0].expected_turn_entries[0]["secret"] == GOOD_SECRET


def test_vault_value_without_password_is_reported_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    password = _vault_password(tmp_path)
    root = write_inventory(tmp_path / "inv")
    (root / "group_vars" / "turn_servers").mkdir(parents=True)
    (root / "group_vars" / "turn_servers" / "vault.yml").write_text(
        _encrypt_string(password, GOOD_SECRET, "coturn_static_auth_secret")
    )
    # A fresh interpreter: Ansible keeps vault secrets process-wide once loaded.
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from talkdeploy.inventory import load\n"
        "from talkdeploy.model import build\n"
        f"d, p = build(load(Path({str(root)!r}), roles_dir=Path({str(REAL_ROLES)!r})))\n"
        "s = d.turn_servers[0]\n"
        "print(json.dumps([s.secret, s.secret_source, [x.as_dict() for x in p]]))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    secret, source, problems = yaml.safe_load(run.stdout.strip().splitlines()[-1])
    assert (secret, source) == (None, "vault-locked")
    (problem,) = problems
    assert problem["key"] == "coturn_static_auth_secret"
    assert problem["severity"] == "warning"
    assert "vault-password-file" in problem["fix"]
    assert problem["file"].endswith("group_vars/turn_servers/vault.yml:1")


def test_missing_inventory_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="does not exist"):
        load(tmp_path / "nope", roles_dir=REAL_ROLES)


def test_unparsable_inventory_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text("all: [this is: not an inventory\n")
    with pytest.raises(InventoryError):
        load(tmp_path / "hosts.yml", roles_dir=REAL_ROLES)


def test_find_origin_follows_ansible_precedence(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv",
        group_vars={"all": {"k": 1}, "turn_servers": {"k": 2}},
        host_vars={TURN: {"other": 1}},
    )

    def read(path: Path) -> object:
        return yaml.safe_load(path.read_text())

    groups_low_to_high = ["all", "turn_servers"]
    origin = find_origin(root, [root], TURN, groups_low_to_high, "k", read)
    assert origin is not None and origin.endswith("group_vars/turn_servers.yml")
    (root / "host_vars" / f"{TURN}.yml").write_text("k: 3\n")
    origin = find_origin(root, [root], TURN, groups_low_to_high, "k", read)
    assert origin is not None and origin.endswith(f"host_vars/{TURN}.yml")
    assert find_origin(root, [root], TURN, groups_low_to_high, "absent", read) is None
    # a variable set inline in the hosts file is found there last
    origin = find_origin(root, [root / "hosts.yml"], TURN, groups_low_to_high, "all", read)
    assert origin is not None and origin.endswith("hosts.yml")


def test_ini_inventory_with_group_vars_directory(tmp_path: Path) -> None:
    root = tmp_path / "inv"
    (root / "group_vars" / "turn_servers").mkdir(parents=True)
    (root / "hosts.ini").write_text(
        "[turn_servers]\nturn.example.org coturn_listening_port=3478\n\n[nextcloud]\ncloud\n"
    )
    (root / "group_vars" / "turn_servers" / "ports.yml").write_text("coturn_min_port: 40000\n")
    deployment, problems = build(load(root / "hosts.ini", roles_dir=REAL_ROLES))
    assert problems == []
    (server,) = deployment.turn_servers
    assert (server.listening_port, server.min_port) == (3478, 40000)
    loaded = deployment.inventory
    assert loaded.hosts[TURN].origins["coturn_min_port"].endswith("ports.yml:1")
    assert loaded.hosts[TURN].origins["coturn_listening_port"].endswith("hosts.ini:2")
