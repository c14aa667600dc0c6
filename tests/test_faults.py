"""Faults an operator meets, through the real CLI on the session's deployed lab.

Each case injects one fault on the lab's real containers (coturn, systemd, nftables, the occ
EMULATOR for Nextcloud), runs `talkdeploy`, and checks what the operator is promised: the
documented exit code (0 ok, 1 invalid input, 2 a host failed, 3 unreachable), the cause in the
output, no secret and no Python traceback, and a TURN server that still works (its previous
configuration in place, coturn running, `verify` passing). Every case restores the lab before
it ends. The README's "When things go wrong" table lists the same cases.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from labkit import ROOT, Lab, Run, assert_secret_hidden, failed_checks, talkdeploy

pytestmark = pytest.mark.docker

EXIT_OK, EXIT_HOST_FAILED, EXIT_UNREACHABLE = 0, 2, 3
CONF = "/etc/turnserver.conf"
TLS_DIR = "/etc/talkdeploy-lab/tls"


@pytest.fixture
def lab(deployed_lab: Lab) -> Lab:
    return deployed_lab


def _output(run: Run) -> str:
    return run.stdout + run.stderr


def assert_operator_sees(lab: Lab, run: Run, code: int, *phrases: str) -> None:
    """The exit code, each phrase, and neither the secret nor a Python traceback."""
    assert run.code == code, _output(run)[-3000:]
    for phrase in phrases:
        assert phrase in _output(run), (phrase, _output(run)[-3000:])
    assert "Traceback" not in _output(run)
    assert_secret_hidden(lab, run)


def _coturn(lab: Lab) -> tuple[str, str]:
    """What must survive a failed change: the config's checksum and coturn's main PID."""
    conf = lab.exec(lab.turn, "sha256sum", CONF)
    pid = lab.exec(lab.turn, "systemctl", "show", "--value", "--property=MainPID", "coturn")
    return conf, pid.strip()


def assert_turn_still_serves(lab: Lab, before: tuple[str, str]) -> None:
    assert _coturn(lab) == before  # the same file, the same process: nothing half-done
    verify = talkdeploy("verify", "-i", str(lab.inventory), "--limit", lab.turn)
    assert verify.code == EXIT_OK, failed_checks(verify) or _output(verify)[-3000:]


def _apply(lab: Lab, *argv: str) -> Run:
    return talkdeploy("apply", "-i", str(lab.inventory), "--yes", *argv)


# --------------------------------------------------------------------------- 2. two runs

LOCK = "/run/talkdeploy.lock"  # roles/run_lock/vars/main.yml


@pytest.fixture
def lock_of_another_run(lab: Lab) -> Iterator[Callable[[int], dict[str, object]]]:
    """Writes the TURN host's lock as another run (alice's, `age` seconds old) would have."""

    def hold(age: int) -> dict[str, object]:
        owner = {"run": "h5otherrun01", "by": "alice@ws1", "since": int(time.time()) - age}
        lab.exec(lab.turn, "sh", "-c", f"echo '{json.dumps(owner)}' > {LOCK}")
        return owner

    try:
        yield hold
    finally:
        lab.exec(lab.turn, "rm", "-f", LOCK)


def test_a_second_run_refuses_at_once_naming_the_first(
    lab: Lab, lock_of_another_run: Callable[[int], dict[str, object]]
) -> None:
    owner = lock_of_another_run(60)
    run = _apply(lab)
    assert_operator_sees(
        lab, run, EXIT_HOST_FAILED,
        f"another talkdeploy run is changing {lab.turn}: alice@ws1 since ", "(run h5otherrun01)",
        "-e run_lock_break=true",
    )  # fmt: skip
    assert run.data["hosts"][lab.turn]["changed"] == 0
    assert json.loads(lab.exec(lab.turn, "cat", LOCK)) == owner  # alice's lock is left alone


def test_a_stale_lock_is_taken_over_and_released_at_the_end(
    lab: Lab, lock_of_another_run: Callable[[int], dict[str, object]]
) -> None:
    lock_of_another_run(7200)  # its run was killed two hours ago
    run = _apply(lab)
    assert_operator_sees(lab, run, EXIT_OK, "took over the lock of alice@ws1 (run h5otherrun01)")
    assert lab.exec(lab.turn, "ls", "/run").split().count("talkdeploy.lock") == 0


def test_two_runs_at_once_either_succeed_or_refuse_and_the_lab_still_verifies(lab: Lab) -> None:
    command = [sys.executable, "-m", "talkdeploy", "--output", "json", "apply", "-i",
               str(lab.inventory), "--yes"]  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, **pipes) for _ in range(2)]
    outcomes = []
    for process in runs:
        stdout, stderr = process.communicate(timeout=600)
        outcomes.append((process.returncode, stdout + stderr))
    assert EXIT_OK in [code for code, _ in outcomes], outcomes
    for code, output in outcomes:
        assert code == EXIT_OK or (
            code == EXIT_HOST_FAILED and "another talkdeploy run is changing" in output
        ), output[-3000:]
        assert "Traceback" not in output and lab.secret() not in output
    assert "talkdeploy.lock" not in lab.exec(lab.turn, "ls", "/run").split()
    verify = talkdeploy("verify", "-i", str(lab.inventory))
    assert verify.code == EXIT_OK, failed_checks(verify)


# --------------------------------------------------------------------------- 3. unreachable

CLOSED_SSH_PORT = 2222  # nothing listens there on the lab's containers: connection refused


def _inventory_with(lab: Lab, tmp_path: Path, hosts: dict[str, dict[str, object]]) -> Path:
    """The lab's inventory with these TURN hosts added or overridden, written to tmp_path."""
    document = yaml.safe_load(lab.inventory.read_text())
    turn_hosts = document["all"]["children"]["turn_servers"]["hosts"]
    for name, variables in hosts.items():
        turn_hosts[name] = {**(turn_hosts.get(name) or {}), **variables}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump(document, sort_keys=False))
    return inventory


def _unreachable(lab: Lab) -> dict[str, object]:
    """SSH to a closed port of the Nextcloud container: refused at once (the TURN container's
    own firewall would drop it, and Ansible would wait for its timeout)."""
    address = lab.exec(lab.nextcloud, "hostname", "-i").split()[0]
    return {"ansible_connection": "ssh", "ansible_host": address, "ansible_port": CLOSED_SSH_PORT,
            "ansible_user": "deploy"}  # fmt: skip


def _talk_lists(lab: Lab) -> tuple[object, object]:
    return tuple(json.loads(lab.occ("config:app:get", "spreed", key)) for key in
                 ("turn_servers", "stun_servers"))  # type: ignore[return-value]  # fmt: skip


@pytest.mark.parametrize("preflight", [True, False], ids=["preflight", "skip-preflight"])
def test_an_unreachable_new_turn_server_is_left_out_and_the_others_converge(
    lab: Lab, tmp_path: Path, preflight: bool
) -> None:
    """Without the preflight (as under AWX or plain ansible-playbook) Ansible finds turn-b
    unreachable when the play gathers facts, after it marked the host as in the run: the role
    leaves it out the same way, from coturn_started without coturn_deployed."""
    turn_b = {**_unreachable(lab), "coturn_public_name": f"turn-b.{lab.name}.test"}
    inventory = _inventory_with(lab, tmp_path, {"turn-b": turn_b})
    lab.exec(lab.turn, "sh", "-c", f"echo '# drift' >> {CONF}")  # a change for the reachable one
    talk_before = _talk_lists(lab)
    run = talkdeploy(
        "apply", "-i", str(inventory), "--yes", *([] if preflight else ["--skip-preflight"])
    )
    refused = f"{turn_b['ansible_host']}:{CLOSED_SSH_PORT}"
    assert_operator_sees(
        lab, run, EXIT_UNREACHABLE,
        f"turn-b ({refused}) refused: nothing listens" if preflight else "Connection refused",
        "the run goes on without it" if preflight else "unreachable",
        "TURN server turn-b is not deployed in this run, so Talk has no entry for it and gets "
        "none until it is deployed",
    )  # fmt: skip
    if preflight:
        assert [r["host"] for r in run.data["not_run"]] == ["turn-b"]
        assert "turn-b" not in run.data["hosts"]  # never tried: no connection timeout to wait for
    else:
        assert run.data["hosts"]["turn-b"]["unreachable"] == 1
    assert run.data["hosts"][lab.turn]["changed"] > 0
    assert run.data["hosts"][lab.turn]["failed"] == 0
    assert "# drift" not in lab.exec(lab.turn, "cat", CONF)  # the reachable TURN server converged
    assert run.data["hosts"][lab.nextcloud]["failed"] == 0
    assert _talk_lists(lab) == talk_before  # no entry for turn-b, the lab's own unchanged
    verify = talkdeploy("verify", "-i", str(lab.inventory))
    assert verify.code == EXIT_OK, failed_checks(verify)


def test_an_unreachable_deployed_turn_server_keeps_its_entries_in_talk(
    lab: Lab, tmp_path: Path
) -> None:
    # A change waits for the TURN server (another port): Talk must not get it before coturn.
    # (Without the preflight, Ansible itself ends the playbook once every host of the TURN play
    # is unreachable: Talk is not touched either.)
    pending = {**_unreachable(lab), "coturn_listening_port": 3478}
    inventory = _inventory_with(lab, tmp_path, {lab.turn: pending})
    before, talk_before = _coturn(lab), _talk_lists(lab)
    run = talkdeploy("apply", "-i", str(inventory), "--yes")
    assert_operator_sees(
        lab, run, EXIT_UNREACHABLE,
        f"TURN server {lab.turn} is not deployed in this run, so Talk keeps its entries for it "
        f"as they are: turn.{lab.name}.test:443",
    )  # fmt: skip
    assert run.data["hosts"][lab.nextcloud]["failed"] == 0  # the Talk side ran
    assert _talk_lists(lab) == talk_before  # old port, old secret, same order: nothing written
    assert run.data["hosts"][lab.nextcloud]["changed"] == 0
    assert_turn_still_serves(lab, before)


# --------------------------------------------------------------------------- 4. coturn says no


def test_a_value_coturn_rejects_restores_the_previous_config(lab: Lab) -> None:
    before = _coturn(lab)
    # turnserver 4.6.1 exits at start on a boolean it cannot parse (coturn/coturn
    # src/apps/relay/mainrelay.c, get_bool_value: "Unknown boolean value"); talkdeploy neither
    # writes nor refuses `mobility`, so only coturn itself can reject it.
    run = _apply(lab, "--limit", lab.turn, "-e", '{"coturn_extra_options": {"mobility": "maybe"}}')
    assert_operator_sees(
        lab, run, EXIT_HOST_FAILED,
        "Unknown boolean value: maybe", "previous turnserver.conf was restored",
    )  # fmt: skip
    conf, _pid = _coturn(lab)
    assert conf == before[0]
    # The restore restarted coturn with the old file (the failed start replaced the process).
    verify = talkdeploy("verify", "-i", str(lab.inventory), "--limit", lab.turn)
    assert verify.code == EXIT_OK, failed_checks(verify)


# --------------------------------------------------------------------------- 5. maintenance


@pytest.fixture
def talk_turn_servers_emptied(lab: Lab) -> Iterator[str]:
    """A change pending for Talk: its TURN list emptied behind talkdeploy's back."""
    original = lab.occ("config:app:get", "spreed", "turn_servers").strip()
    lab.occ("config:app:set", "spreed", "turn_servers", "--value=[]")
    try:
        yield original
    finally:
        lab.occ("maintenance:mode", "--off")
        lab.occ("config:app:set", "spreed", "turn_servers", f"--value={original}")


def test_nextcloud_in_maintenance_mode_gets_nothing_written(
    lab: Lab, talk_turn_servers_emptied: str
) -> None:
    before = _coturn(lab)
    lab.occ("maintenance:mode", "--on")
    run = _apply(lab)
    assert_operator_sees(
        lab, run, EXIT_HOST_FAILED, f"Nextcloud on {lab.nextcloud} is in maintenance mode"
    )
    assert {f["host"] for f in run.data["failures"]} == {lab.nextcloud}
    assert run.data["hosts"][lab.turn]["failed"] == 0  # the TURN side is not affected
    assert run.data["hosts"][lab.turn]["changed"] == 0
    lab.occ("maintenance:mode", "--off")
    assert json.loads(lab.occ("config:app:get", "spreed", "turn_servers")) == []  # untouched
    assert_turn_still_serves(lab, before)
    # Once maintenance is over, the next apply makes the pending change.
    again = _apply(lab)
    assert again.code == EXIT_OK, _output(again)[-3000:]
    restored = lab.occ("config:app:get", "spreed", "turn_servers").strip()
    assert json.loads(restored) == json.loads(talk_turn_servers_emptied)


# --------------------------------------------------------------------------- 6. TLS material


def test_a_missing_tls_key_is_named_and_coturn_keeps_its_certificate(lab: Lab) -> None:
    before = _coturn(lab)
    absent = f"{TLS_DIR}/renewed.key"
    run = _apply(lab, "--limit", lab.turn, "-e", f"coturn_pkey={absent}")
    assert_operator_sees(
        lab, run, EXIT_HOST_FAILED, f"coturn_cert / coturn_pkey: missing: {absent}"
    )
    assert_turn_still_serves(lab, before)  # verify's TLS check: the old certificate served


def test_a_key_that_does_not_match_the_certificate_is_refused(lab: Lab) -> None:
    before = _coturn(lab)
    other_key = f"{TLS_DIR}/other.key"
    lab.exec(lab.turn, "sh", "-c", f"umask 077; openssl genpkey -algorithm EC "
             f"-pkeyopt ec_paramgen_curve:P-256 -out {other_key} 2>/dev/null")  # fmt: skip
    try:
        run = _apply(lab, "--limit", lab.turn, "-e", f"coturn_pkey={other_key}")
    finally:
        lab.exec(lab.turn, "rm", "-f", other_key)
    assert_operator_sees(
        lab, run, EXIT_HOST_FAILED,
        f"coturn_cert / coturn_pkey: key does not match certificate: {other_key}",
    )  # fmt: skip
    (failure,) = run.data["failures"]
    assert failure["task"] == "Certificate and key exist and belong together"
    assert_turn_still_serves(lab, before)


# --------------------------------------------------------------------------- 8. a full disk

# A copy of /etc on a tmpfs that is then filled to the last byte, mounted over /etc (the lab's
# containers have CAP_SYS_ADMIN for systemd): every file is there, no byte is free. Unmounting
# brings back the real /etc, which nothing in the test wrote to.
FILL_ETC = """
set -e
mkdir -p /run/h5-etc
used=$(du -sk /etc | cut -f1)
mount -t tmpfs -o size=$((used + 4096))k h5-etc /run/h5-etc
cp -a /etc/. /run/h5-etc/
dd if=/dev/zero of=/run/h5-etc/.h5-fill bs=4k 2>/dev/null || true
mount --bind /run/h5-etc /etc
"""
EMPTY_ETC = "umount /etc; umount /run/h5-etc; rmdir /run/h5-etc"


@pytest.fixture
def etc_full(lab: Lab) -> Iterator[None]:
    lab.exec(lab.turn, "sh", "-c", FILL_ETC)
    try:
        yield None
    finally:
        lab.exec(lab.turn, "sh", "-c", EMPTY_ETC)


def test_no_space_left_for_turnserver_conf_keeps_the_old_one_running(
    lab: Lab, etc_full: None
) -> None:
    before = _coturn(lab)
    change = '{"coturn_extra_options": {"max-allocate-lifetime": 1800}}'
    run = _apply(lab, "--limit", lab.turn, "-e", change)
    assert_operator_sees(
        lab, run, EXIT_HOST_FAILED,
        f"{CONF} was not written, the previous one is in place and coturn was not restarted: ",
        "No space left on device",
    )  # fmt: skip
    told = [f for f in run.data["failures"] if "No space left" in f["msg"]]
    assert [f["task"] for f in told] == ["Turnserver.conf could not be written"]
    assert _coturn(lab) == before  # the old file whole, coturn not restarted
    assert "max-allocate-lifetime" not in lab.exec(lab.turn, "cat", CONF)
    verify = talkdeploy("verify", "-i", str(lab.inventory), "--limit", lab.turn)
    assert verify.code == EXIT_OK, failed_checks(verify)


# --------------------------------------------------------------------------- 7 and 1: a new host

# Holds dpkg's frontend lock the way dpkg does (an fcntl write lock) until killed.
HOLD_DPKG_LOCK = (
    "import fcntl, time; lock = open('/var/lib/dpkg/lock-frontend', 'w'); "
    "fcntl.lockf(lock, fcntl.LOCK_EX); time.sleep(120)  # talkdeploy-test-lock"
)
INSTALL_TASK = "Coturn and its helper packages are installed from the distribution"


@pytest.fixture(scope="module")
def coturn_removed(deployed_lab: Lab) -> Iterator[Lab]:
    """The TURN host as on a first deployment: coturn not installed (its configuration, a
    conffile, is kept, and with it the secret Talk holds). The module ends converged."""
    lab = deployed_lab
    lab.exec(lab.turn, "sh", "-c", "systemctl stop coturn; DEBIAN_FRONTEND=noninteractive "
             "apt-get remove -y -qq coturn >/dev/null")  # fmt: skip
    try:
        yield lab
    finally:
        lab.exec(lab.turn, "sh", "-c", "pkill -f [t]alkdeploy-test-lock || true")
        converged = _apply(lab)
        assert converged.code == EXIT_OK, _output(converged)[-3000:]


def _installed(lab: Lab, package: str) -> bool:
    status = subprocess.run(
        ["docker", "exec", lab.turn, "dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return status.stdout == "install ok installed"


def test_a_busy_package_manager_is_waited_for_then_named(coturn_removed: Lab) -> None:
    lab = coturn_removed
    conf = lab.exec(lab.turn, "sha256sum", CONF)
    subprocess.run(["docker", "exec", "-d", lab.turn, "python3", "-c", HOLD_DPKG_LOCK], check=True)
    try:
        _wait_until(lambda: "WRITE" in lab.exec(lab.turn, "cat", "/proc/locks"), 10)
        started = time.monotonic()
        run = _apply(lab, "--limit", lab.turn, "-e", "coturn_package_lock_timeout=3")
        waited = time.monotonic() - started
    finally:
        lab.exec(lab.turn, "sh", "-c", "pkill -f [t]alkdeploy-test-lock || true")
    assert_operator_sees(
        lab, run, EXIT_HOST_FAILED,
        "the package manager is busy: /var/lib/dpkg/lock-frontend held by ", "(python3)",
        "still after 3 s",
    )  # fmt: skip
    assert waited >= 3  # it waited before giving up
    assert not _installed(lab, "coturn")  # nothing else changed
    assert lab.exec(lab.turn, "sha256sum", CONF) == conf


def test_an_apply_killed_during_a_first_deployment_is_finished_by_the_next(
    coturn_removed: Lab,
) -> None:
    lab = coturn_removed
    apply = subprocess.Popen(
        [sys.executable, "-m", "talkdeploy", "apply", "-i", str(lab.inventory), "--yes",
         "--limit", lab.turn],
        cwd=ROOT, env={**os.environ, "NO_COLOR": "1"}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert apply.stderr is not None
    threading.Thread(target=lambda: [lines.put(x) for x in apply.stderr], daemon=True).start()
    try:
        _wait_for_line(lines, INSTALL_TASK, 180)
        time.sleep(2)  # apt is unpacking
    finally:
        os.killpg(apply.pid, signal.SIGKILL)  # the operator's laptop lid, a CI job cancelled
        apply.wait(30)
    again = _apply(lab, "--limit", lab.turn)
    assert_operator_sees(lab, again, EXIT_OK)
    assert _installed(lab, "coturn")
    # Files are replaced whole (Ansible writes a temporary file and renames it: ansible-core
    # lib/ansible/module_utils/basic.py, AnsibleModule.atomic_move), so none is left half-done.
    leftovers = lab.exec(
        lab.turn, "find", "/etc", "-name", ".ansible_tmp*", "-o", "-name", "*.dpkg-new"
    )
    assert leftovers == ""
    lab.exec(lab.turn, "nft", "--check", "--file", "/etc/nftables.conf")
    verify = talkdeploy("verify", "-i", str(lab.inventory), "--limit", lab.turn)
    assert verify.code == EXIT_OK, failed_checks(verify)


def _wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _wait_for_line(lines: queue.Queue[str], text: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return
    pytest.fail(f"{text!r} never appeared; the run said: {''.join(seen[-30:])}")
