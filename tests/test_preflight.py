"""The paramiko preflight against a real sshd (Debian's openssh-server) in a container."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from conftest import Container, remove_container, start_systemd_container

from talkdeploy import inventory, ssh_settings
from talkdeploy.preflight import check, check_all, classify
from talkdeploy.ssh_settings import SshTarget


@dataclass
class Sshd:
    container: Container
    ip: str
    key: Path  # authorised for both users
    wrong_key: Path  # authorised for nobody
    known_hosts: Path


@pytest.fixture(scope="module")
def sshd(debian12: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    keys = tmp_path_factory.mktemp("keys")
    rsa = paramiko.RSAKey.generate(2048)
    rsa.write_private_key_file(str(keys / "id_rsa"))
    wrong = paramiko.RSAKey.generate(2048)
    wrong.write_private_key_file(str(keys / "wrong_rsa"))
    public = f"{rsa.get_name()} {rsa.get_base64()} preflight-test\n"
    container = start_systemd_container("talkdeploy-test/debian12", "h5-sshd")
    try:
        container.sh(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            "--no-install-recommends openssh-server >/dev/null && systemctl enable --now ssh"
        )
        for user in ("deploy", "needpw"):
            container.sh(f"useradd -m -s /bin/sh {user} && echo {user}:pw-{user} | chpasswd")
            container.sh(f"mkdir -p /home/{user}/.ssh")
            container.put(f"/home/{user}/.ssh/authorized_keys", public, "0600")
            container.sh(f"chown -R {user}: /home/{user}/.ssh")
        container.put("/etc/sudoers.d/deploy", "deploy ALL=(ALL) NOPASSWD: ALL\n", "0440")
        container.put("/etc/sudoers.d/needpw", "needpw ALL=(ALL) ALL\n", "0440")
        ip = container.ip
        host_key = container.exec("cat", "/etc/ssh/ssh_host_ed25519_key.pub").split()
        known_hosts = keys / "known_hosts"
        known_hosts.write_text(f"{ip} {host_key[0]} {host_key[1]}\n")
        yield Sshd(container, ip, keys / "id_rsa", keys / "wrong_rsa", known_hosts)
    finally:
        remove_container(container)


def _target(sshd: Sshd, **changes: object) -> SshTarget:
    fields: dict[str, object] = {
        "name": "turn1",
        "address": sshd.ip,
        "user": "deploy",
        "key_files": (str(sshd.key),),
        "look_for_keys": False,
        "known_hosts": (str(sshd.known_hosts),),
    }
    fields.update(changes)
    return SshTarget(**fields)  # type: ignore[arg-type]


def _operator_ssh_vars(sshd: Sshd) -> str:
    """`all: vars:` lines as a careful operator writes them: a sudo user, a key, and their own
    known_hosts file given to OpenSSH (which the preflight must read too)."""
    return (
        "    ansible_user: deploy\n"
        f"    ansible_ssh_private_key_file: {sshd.key}\n"
        f"    ansible_ssh_common_args: -o UserKnownHostsFile={sshd.known_hosts}"
        " -o StrictHostKeyChecking=yes\n"
    )


@pytest.mark.docker
def test_a_reachable_host_that_can_sudo_passes(sshd: Sshd) -> None:
    reach = check(_target(sshd))
    assert reach.ok, reach
    assert reach.detail == "sudo without password"


@pytest.mark.docker
def test_a_wrong_key_is_an_auth_failure(sshd: Sshd) -> None:
    reach = check(_target(sshd, key_files=(str(sshd.wrong_key),)))
    assert not reach.ok
    assert reach.reason == "auth"
    assert "ansible_ssh_private_key_file" in reach.fix


@pytest.mark.docker
def test_a_closed_port_is_refused(sshd: Sshd) -> None:
    reach = check(_target(sshd, port=2222), timeout=5)
    assert not reach.ok
    assert reach.reason == "refused"


@pytest.mark.docker
def test_sudo_that_needs_a_password_is_reported(sshd: Sshd) -> None:
    reach = check(_target(sshd, user="needpw"))
    assert (reach.ok, reach.reason) == (False, "sudo-password")
    with_password = check(_target(sshd, user="needpw", become_password="pw-needpw"))
    assert with_password.ok, with_password
    wrong_password = check(_target(sshd, user="needpw", become_password="nope"))
    assert (wrong_password.ok, wrong_password.reason) == (False, "sudo-password")


@pytest.mark.docker
def test_an_unknown_host_key_is_refused_like_ansible_does(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    reach = check(_target(sshd, known_hosts=(str(empty),)))
    assert (reach.ok, reach.reason) == (False, "host-key")
    assert reach.detail.startswith(f"unknown host key: {sshd.ip} offers ")
    assert "SHA256:" in reach.detail
    assert f"ssh-keyscan -t ed25519 {sshd.ip} >> {empty}" in reach.fix


@pytest.mark.docker
def test_a_changed_host_key_names_both_fingerprints_the_line_and_the_fix(
    sshd: Sshd, tmp_path: Path
) -> None:
    stale = tmp_path / "known_hosts"
    rsa = paramiko.RSAKey.generate(2048)
    stale.write_text(f"# kept\n{sshd.ip} {rsa.get_name()} {rsa.get_base64()}\n")
    reach = check(_target(sshd, known_hosts=(str(stale),)))
    assert (reach.ok, reach.reason) == (False, "host-key")
    assert reach.detail.startswith(f"the host key of {sshd.ip} has CHANGED: it offers ")
    assert f"{stale}:2 has SHA256:" in reach.detail
    assert f"ssh-keygen -R {sshd.ip} -f {stale}" in reach.fix
    assert rsa.get_base64() not in reach.detail + reach.fix  # fingerprints, not key blobs


@pytest.mark.docker
def test_every_unreachable_host_is_reported_at_once(sshd: Sshd, tmp_path: Path) -> None:
    inventory_file = tmp_path / "hosts.yml"
    inventory_file.write_text(
        f"""
all:
  vars:
{_operator_ssh_vars(sshd)}  children:
    turn_servers:
      hosts:
        good: {{ansible_host: {sshd.ip}}}
        closed: {{ansible_host: {sshd.ip}, ansible_port: 2222}}
        badkey: {{ansible_host: {sshd.ip}, ansible_ssh_private_key_file: {sshd.wrong_key}}}
        needspw: {{ansible_host: {sshd.ip}, ansible_user: needpw}}
        pw_given: {{ansible_host: {sshd.ip}, ansible_user: needpw}}
    nextcloud:
      hosts:
        lab: {{ansible_connection: community.docker.docker}}
"""
    )
    loaded = inventory.load(inventory_file)
    # -e reaches the preflight as it reaches Ansible: only for the host it is limited to here.
    only_pw_given = ssh_settings.targets(
        loaded, limit="pw_given", extra_vars=["ansible_become_password=pw-needpw"]
    )
    everyone_else = ssh_settings.targets(loaded, limit="all:!pw_given")
    reaches = {r.host: r for r in check_all(only_pw_given + everyone_else)}
    assert {name: r.reason for name, r in reaches.items()} == {
        "pw_given": "",
        "good": "",
        "closed": "refused",
        "badkey": "auth",
        "needspw": "sudo-password",
        "lab": "skipped",
    }


def test_a_name_that_does_not_resolve_is_a_dns_problem() -> None:
    # Classified from the exception only: a real lookup would query a resolver outside the test.
    assert classify(socket.gaierror(-2, "Name or service not known")) == "dns"
    assert classify(paramiko.AuthenticationException("no")) == "auth"
    assert classify(TimeoutError()) == "timeout"


@pytest.mark.docker
@pytest.mark.parametrize("connection", ["ssh", "paramiko"])
def test_playbooks_run_over_openssh_and_paramiko(
    sshd: Sshd, tmp_path: Path, connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from talkdeploy.errors import ExitCode
    from talkdeploy.runner import RunOptions, run_playbook

    if connection == "ssh" and shutil.which("ssh") is None:
        pytest.skip("no OpenSSH client on this machine")
    # Never touch the user's ~/.ssh/known_hosts: OpenSSH checks the key against the test's
    # own file; Ansible's paramiko plugin only reads the user's, so it skips the check
    # (checked above) and must not record the key there either.
    if connection == "ssh":
        monkeypatch.setenv("ANSIBLE_SSH_COMMON_ARGS", f"-o UserKnownHostsFile={sshd.known_hosts}")
    else:
        monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
        monkeypatch.setenv("ANSIBLE_PARAMIKO_RECORD_HOST_KEYS", "False")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        f"""
all:
  hosts:
    turn1:
      ansible_host: {sshd.ip}
      ansible_user: deploy
      ansible_ssh_private_key_file: {sshd.key}
      ansible_python_interpreter: /usr/bin/python3
"""
    )
    playbook = tmp_path / "whoami.yml"
    playbook.write_text(
        "- hosts: all\n  become: true\n  gather_facts: false\n  tasks:\n"
        "    - name: Root is reached\n      ansible.builtin.command: id -u\n"
        "      register: who\n      changed_when: false\n"
        "      failed_when: who.stdout != '0'\n"
    )
    result = run_playbook(
        playbook, RunOptions(inventory=inventory, connection=connection), collections=tmp_path
    )
    assert result.exit_code == ExitCode.SUCCESS, result.failures or result.log_tail
    assert result.hosts["turn1"].ok == 1


def test_the_known_hosts_fix_leaves_the_home_directory_for_the_shell_to_expand() -> None:
    from talkdeploy.preflight import unknown_key

    offered = paramiko.ECDSAKey.generate()
    target = SshTarget(
        "turn1", "10.0.0.2", connection="paramiko", known_hosts=("~/.ssh/known_hosts",)
    )
    fix = unknown_key(target, offered).fix
    assert "ssh-keyscan -t ecdsa 10.0.0.2 >> ~/.ssh/known_hosts " in fix
    spaced = SshTarget("turn1", "10.0.0.2", known_hosts=("/srv/my keys/known_hosts",))
    assert unknown_key(spaced, offered).fix.endswith(">> '/srv/my keys/known_hosts'")


@pytest.mark.docker
def test_plan_then_apply_over_ssh_on_a_fresh_host(sshd: Sshd, tmp_path: Path) -> None:
    """No coturn, no python3-apt, no nftables yet: plan passes the preflight, says what apply
    would do and exits 0; apply installs it as the sudo user; the re-apply changes nothing.

    Last in this module: the firewall it deploys drops the closed-port test's port 2222."""
    from labkit import talkdeploy

    inventory_file = tmp_path / "hosts.yml"
    inventory_file.write_text(
        f"""
all:
  vars:
{_operator_ssh_vars(sshd)}    ansible_python_interpreter: /usr/bin/python3
  children:
    turn_servers:
      hosts:
        turn1: {{ansible_host: {sshd.ip}}}
      vars:
        coturn_realm: ssh.test
        coturn_privileged_port_method: setcap
        coturn_static_auth_secret: {"5e" * 32}
        firewall_backend: nftables
"""
    )
    plan = talkdeploy("plan", "-i", str(inventory_file))
    assert plan.code == 0, plan.stderr[-3000:] + plan.stdout[-3000:]
    assert plan.data["hosts"]["turn1"]["changed"] > 0  # the package, the files, the service
    apply = talkdeploy("apply", "-i", str(inventory_file), "--yes")
    assert apply.code == 0, apply.stderr[-3000:] + apply.stdout[-3000:]
    assert sshd.container.exec("systemctl", "is-active", "coturn").strip() == "active"
    again = talkdeploy("apply", "-i", str(inventory_file), "--yes")
    assert again.code == 0, again.stderr[-3000:]
    assert again.data["hosts"]["turn1"]["changed"] == 0
    for run in (plan, apply, again):
        assert "5e" * 32 not in run.stdout + run.stderr
