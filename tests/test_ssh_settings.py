"""The preflight's view of each host is the one Ansible will use: inventory, -e, ssh -G.

No connection is made: `ssh -G` only evaluates the configuration (ssh(1), -G), and the
addresses are from the documentation range (RFC 5737).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from talkdeploy import inventory, ssh_settings

INVENTORY = """
all:
  children:
    turn_servers:
      hosts:
        turn1:
          ansible_host: 192.0.2.7
          ansible_user: deploy
          ansible_ssh_private_key_file: {key}
          ansible_ssh_common_args: -o UserKnownHostsFile={known} -o StrictHostKeyChecking=accept-new
        turn2:
          ansible_host: 192.0.2.8
          ansible_port: 2200
          ansible_ssh_common_args: -o ProxyJump=bastion.example
    nextcloud:
      hosts:
        nc1:
          ansible_connection: community.docker.docker
"""

needs_ssh = pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")


def _targets(tmp_path: Path, **options: object) -> dict[str, ssh_settings.SshTarget]:
    path = tmp_path / "hosts.yml"
    path.write_text(INVENTORY.format(key=tmp_path / "id_ed25519", known=tmp_path / "known"))
    loaded = inventory.load(path)
    return {t.name: t for t in ssh_settings.targets(loaded, **options)}  # type: ignore[arg-type]


@needs_ssh
def test_the_known_hosts_file_and_strictness_given_to_openssh_are_the_preflights(
    tmp_path: Path,
) -> None:
    turn1 = _targets(tmp_path)["turn1"]
    assert turn1.known_hosts[0] == str(tmp_path / "known")
    assert "/root/.ssh/known_hosts" not in turn1.known_hosts  # UserKnownHostsFile replaces it
    assert turn1.strict == "accept-new"
    assert turn1.key_files == (str(tmp_path / "id_ed25519"),)
    assert not turn1.look_for_keys
    assert (turn1.address, turn1.port, turn1.user) == ("192.0.2.7", 22, "deploy")


def test_extra_vars_win_over_the_inventory_as_in_ansible(tmp_path: Path) -> None:
    found = _targets(tmp_path, extra_vars=["ansible_user=ops ansible_become_password=pw"])
    assert found["turn1"].user == "ops"
    assert found["turn1"].become_password == "pw"


def test_extra_vars_from_a_file(tmp_path: Path) -> None:
    extra = tmp_path / "become.yml"
    extra.write_text("ansible_become_password: from-file\n")
    found = _targets(tmp_path, extra_vars=[f"@{extra}"])
    assert found["turn1"].become_password == "from-file"


def test_an_unreadable_extra_vars_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(ssh_settings.SettingsError) as raised:
        _targets(tmp_path, extra_vars=[f"@{tmp_path / 'missing.yml'}"])
    assert "missing.yml" in str(raised.value)
    assert "@FILE" in raised.value.fix


@needs_ssh
def test_a_proxy_jump_is_left_to_openssh(tmp_path: Path) -> None:
    turn2 = _targets(tmp_path)["turn2"]
    assert "bastion.example" in turn2.deferred
    assert turn2.port == 2200


def test_docker_hosts_are_skipped_and_limit_follows_ansible_patterns(tmp_path: Path) -> None:
    found = _targets(tmp_path, limit="all:!turn2")
    assert set(found) == {"turn1", "nc1"}
    assert found["nc1"].skipped == "reached with ansible_connection=docker"


def test_paramiko_reads_only_the_known_hosts_files_ansibles_paramiko_reads(
    tmp_path: Path,
) -> None:
    turn1 = _targets(tmp_path, connection="paramiko")["turn1"]
    assert turn1.connection == "paramiko"
    assert turn1.known_hosts == ssh_settings.PARAMIKO_KNOWN_HOSTS
