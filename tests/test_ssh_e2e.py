"""The admin-workstation path end to end: the session's lab reached over real SSH.

`talkdeploy lab up --ssh` turns the session's deployed lab (tests/labkit.py) into SSH hosts:
Debian's openssh-server, the non-root sudo user `deploy`, an ed25519 key and a known_hosts file
made for the lab and given to OpenSSH with StrictHostKeyChecking=yes. Then `apply` (a no-op:
the lab was deployed over `docker exec`, and SSH must find the same state), `status` and
`verify` run through the CLI over OpenSSH and over `--connection paramiko`, with the preflight
on, and the failure paths end with exit code 3 and the reason before anything runs. The module
puts the lab's `docker exec` inventory back when it ends. A fresh host over SSH (plan, apply,
re-apply) is in tests/test_preflight.py.
"""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from labkit import Lab, Run, assert_secret_hidden, failed_checks, talkdeploy

from talkdeploy import lab as labs
from talkdeploy import lab_ssh

pytestmark = pytest.mark.docker

EXIT_OK, EXIT_PREFLIGHT = 0, 3
NEEDPW_USER, NEEDPW_PASSWORD = "needpw", "lab-sudo-password-7f3a"


@dataclass
class SshLab:
    lab: Lab
    up: labs.LabUp
    inventory_text: str

    @property
    def turn(self) -> lab_ssh.SshAccess:
        return self.up.ssh[self.lab.turn]

    def variant(self, directory: Path, old: str, new: str) -> Path:
        """A copy of the lab's SSH inventory with one setting changed, as an operator's typo."""
        assert old in self.inventory_text
        path = directory / "hosts.yml"
        path.write_text(self.inventory_text.replace(old, new))
        return path


@pytest.fixture(scope="module")
def ssh_lab(deployed_lab: Lab) -> Iterator[SshLab]:
    assert deployed_lab.directory is not None
    up = labs.up("debian12", deployed_lab.directory, lab=deployed_lab.name, ssh=True)
    try:
        yield SshLab(deployed_lab, up, up.inventory.read_text())
    finally:  # the session's other tests reach the lab with `docker exec`
        labs.up("debian12", deployed_lab.directory, lab=deployed_lab.name)


def _changes(run: Run) -> dict[str, int]:
    return {host: row["changed"] for host, row in run.data.get("hosts", {}).items()}


def _why(run: Run) -> str:
    return run.stderr[-3000:] + run.stdout[-3000:]


def test_lab_up_ssh_makes_hosts_openssh_reaches_as_a_sudo_user(ssh_lab: SshLab) -> None:
    ssh_dir = ssh_lab.up.directory / ".ssh"
    assert set(ssh_lab.up.ssh) == {ssh_lab.lab.turn, ssh_lab.lab.nextcloud}
    for path in (ssh_dir / "id_ed25519", ssh_dir / "known_hosts"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    known = (ssh_dir / "known_hosts").read_text().splitlines()
    for access in ssh_lab.up.ssh.values():
        assert [line for line in known if lab_ssh.names_host(line, access.address)]
        # OpenSSH itself, with exactly the inventory's settings: key, known_hosts, strict.
        login = subprocess.run(
            ["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={access.known_hosts}",
             "-o", "StrictHostKeyChecking=yes", "-i", str(access.key_file),
             f"{access.user}@{access.address}", "id -un; sudo -n id -u"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert login.stdout.split() == ["deploy", "0"], login.stderr


def test_apply_status_and_verify_over_openssh(ssh_lab: SshLab) -> None:
    inventory = str(ssh_lab.up.inventory)
    apply = talkdeploy("apply", "-i", inventory, "--yes")
    assert apply.code == EXIT_OK, _why(apply)
    assert apply.data["stage"] != "preflight"
    # Deployed over `docker exec`, re-applied over SSH as `deploy` + sudo: the same state.
    assert _changes(apply) == {ssh_lab.lab.turn: 0, ssh_lab.lab.nextcloud: 0}
    status = talkdeploy("status", "-i", inventory)
    assert status.code == EXIT_OK, _why(status)
    verify = talkdeploy("verify", "-i", inventory)
    assert verify.code == EXIT_OK, failed_checks(verify) or _why(verify)
    assert_secret_hidden(ssh_lab.lab, apply, status, verify)


def test_apply_status_and_verify_over_paramiko(
    ssh_lab: SshLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ansible's paramiko reads ~/.ssh/known_hosts only (no UserKnownHostsFile): a HOME of the
    # test's own holds the lab's file, and the user's is never read or written.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    (home / ".ssh" / "known_hosts").write_text(ssh_lab.turn.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(home))
    # Proof that paramiko carries the run: OpenSSH, if anything used it, would fail.
    monkeypatch.setenv("ANSIBLE_SSH_EXECUTABLE", "/bin/false")
    inventory = str(ssh_lab.up.inventory)
    paramiko = ("--connection", "paramiko")
    apply = talkdeploy("apply", "-i", inventory, "--yes", *paramiko)
    assert apply.code == EXIT_OK, _why(apply)
    assert _changes(apply) == {ssh_lab.lab.turn: 0, ssh_lab.lab.nextcloud: 0}
    status = talkdeploy("status", "-i", inventory, *paramiko)
    assert status.code == EXIT_OK, _why(status)
    verify = talkdeploy("verify", "-i", inventory, *paramiko)
    assert verify.code == EXIT_OK, failed_checks(verify) or _why(verify)
    assert_secret_hidden(ssh_lab.lab, apply, status, verify)


def _preflight_failure(run: Run, host: str) -> dict[str, object]:
    assert run.code == EXIT_PREFLIGHT, _why(run)
    assert run.data["stage"] == "preflight"
    rows = {row["host"]: row for row in run.data["preflight"]}
    return rows[host]


def test_a_wrong_key_stops_before_anything_runs(ssh_lab: SshLab, tmp_path: Path) -> None:
    wrong = lab_ssh.make_key(tmp_path)
    inventory = ssh_lab.variant(tmp_path, str(ssh_lab.turn.key_file), str(wrong))
    run = talkdeploy("plan", "-i", str(inventory), "--limit", ssh_lab.lab.turn)
    row = _preflight_failure(run, ssh_lab.lab.turn)
    assert row["reason"] == "auth"
    assert str(row["detail"]).startswith("the SSH server refused user deploy with key ")
    assert "ansible_ssh_private_key_file" in str(row["fix"])


def test_a_changed_host_key_stops_with_both_fingerprints_and_the_fix(
    ssh_lab: SshLab, tmp_path: Path
) -> None:
    other_key = Path(f"{lab_ssh.make_key(tmp_path / 'other')}.pub").read_text().split()
    address = ssh_lab.turn.address
    stale = tmp_path / "known_hosts"
    stale.write_text(
        "".join(
            f"{address} {other_key[0]} {other_key[1]}\n"
            if lab_ssh.names_host(line, address)
            else f"{line}\n"
            for line in ssh_lab.turn.known_hosts.read_text().splitlines()
        )
    )
    inventory = ssh_lab.variant(
        tmp_path, f"UserKnownHostsFile={ssh_lab.turn.known_hosts}", f"UserKnownHostsFile={stale}"
    )
    run = talkdeploy("plan", "-i", str(inventory), "--limit", ssh_lab.lab.turn)
    row = _preflight_failure(run, ssh_lab.lab.turn)
    assert row["reason"] == "host-key"
    assert str(row["detail"]).startswith(f"the host key of {address} has CHANGED: it offers ")
    assert f"ssh-keygen -R {address} -f {stale}" in str(row["fix"])


def test_a_closed_or_firewalled_port_stops_before_anything_runs(
    ssh_lab: SshLab, tmp_path: Path
) -> None:
    inventory = ssh_lab.variant(tmp_path, "ansible_port: 22", "ansible_port: 2222")
    run = talkdeploy("plan", "-i", str(inventory))
    # The TURN host's nftables (deployed by talkdeploy) drops the port; the Nextcloud host
    # has no firewall and refuses it.
    assert _preflight_failure(run, ssh_lab.lab.turn)["reason"] == "timeout"
    refused = _preflight_failure(run, ssh_lab.lab.nextcloud)
    address = ssh_lab.up.ssh[ssh_lab.lab.nextcloud].address
    assert refused["reason"] == "refused"
    assert refused["detail"] == f"nothing listens on [{address}]:2222 (connection refused)"


@pytest.fixture
def needpw_user(ssh_lab: SshLab) -> Iterator[str]:
    """A second login on the TURN host whose sudo asks for a password."""
    public_key = Path(f"{ssh_lab.turn.key_file}.pub").read_text()
    lab_ssh.add_user(
        ssh_lab.lab.turn, public_key, labs._docker, NEEDPW_USER, sudo_password=NEEDPW_PASSWORD
    )
    try:
        yield NEEDPW_USER
    finally:
        ssh_lab.lab.exec(
            ssh_lab.lab.turn, "sh", "-c", f"userdel -r {NEEDPW_USER}; rm /etc/sudoers.d/needpw"
        )


def test_a_sudo_password_is_asked_for_and_taken_from_extra_vars(
    ssh_lab: SshLab, needpw_user: str, tmp_path: Path
) -> None:
    inventory = ssh_lab.variant(
        tmp_path, 'ansible_user: "deploy"', f'ansible_user: "{needpw_user}"'
    )
    limit = ("--limit", ssh_lab.lab.turn)
    run = talkdeploy("plan", "-i", str(inventory), *limit)
    row = _preflight_failure(run, ssh_lab.lab.turn)
    assert row["reason"] == "sudo-password"
    assert "ansible_become_password" in str(row["fix"])
    # Given as an operator keeps it off the command line: -e @file, readable by them only.
    extra = tmp_path / "become.yml"
    extra.touch(mode=0o600)
    extra.write_text(f"ansible_become_password: {NEEDPW_PASSWORD}\n")
    given = talkdeploy("plan", "-i", str(inventory), *limit, "-e", f"@{extra}")
    assert given.code == EXIT_OK, _why(given)
    assert _changes(given) == {ssh_lab.lab.turn: 0}
    assert NEEDPW_PASSWORD not in given.stdout + given.stderr
