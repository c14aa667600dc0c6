"""Day 2, the Talk side on its own: `apply --limit <nextcloud host>` with the TURN servers left out.

Runs against the session's deployed lab (tests/labkit.py): real coturn on the TURN container,
the occ EMULATOR (the one stand-in) on the "nextcloud" container. The Talk role works out each
TURN server's endpoint from the inventory and reads its secret from the TURN host, read-only,
when the inventory does not hold it (the lab's does not: coturn generated it). Each test that
changes something restores the lab before it ends.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from labkit import ROOT, Lab, assert_secret_hidden, failed_checks, talkdeploy

pytestmark = pytest.mark.docker

COLLECTIONS = ROOT / ".ansible" / "collections"


@pytest.fixture
def lab(deployed_lab: Lab) -> Iterator[Lab]:
    turn_servers = deployed_lab.occ("config:app:get", "spreed", "turn_servers").strip()
    stun_servers = deployed_lab.occ("config:app:get", "spreed", "stun_servers").strip()
    conf = deployed_lab.exec(deployed_lab.turn, "sha256sum", "/etc/turnserver.conf")
    yield deployed_lab
    # Talk's settings as deployed, whatever the test did; the TURN host was never to change.
    deployed_lab.occ("config:app:set", "spreed", "turn_servers", f"--value={turn_servers}")
    deployed_lab.occ("config:app:set", "spreed", "stun_servers", f"--value={stun_servers}")
    assert deployed_lab.exec(deployed_lab.turn, "sha256sum", "/etc/turnserver.conf") == conf


def with_extra_turn_server(lab: Lab, tmp_path: Path, name: str, host_vars: str = "") -> Path:
    """A copy of the lab's inventory with one more TURN server, `name`, that coturn never ran on."""
    text = lab.inventory.read_text()
    marker = "    turn_servers:\n      hosts:\n"
    assert text.count(marker) == 1
    copy = tmp_path / "hosts.yml"
    copy.write_text(text.replace(marker, f"{marker}        {name}:\n{host_vars}"))
    return copy


def site_limited_to_nextcloud(lab: Lab) -> subprocess.CompletedProcess[str]:
    """`ansible-playbook playbooks/site.yml --limit nextcloud`, as an operator runs it."""
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    return subprocess.run(
        [playbook, "-i", str(lab.inventory), "playbooks/site.yml", "--limit", "nextcloud"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=600,
        env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "ANSIBLE_NOCOLOR": "1"},
    )


def test_talk_alone_on_the_deployed_lab_changes_nothing(lab: Lab) -> None:
    run = talkdeploy("apply", "-i", str(lab.inventory), "--yes", "--limit", lab.nextcloud)
    assert run.code == 0, run.stdout + run.stderr[-3000:]
    assert run.data["changed"] == 0, run.data["hosts"]
    assert set(run.data["hosts"]) == {lab.nextcloud}  # the TURN host is not in the run
    assert_secret_hidden(lab, run)


def test_talk_alone_restores_the_turn_setting_changed_in_talk(lab: Lab) -> None:
    deployed = json.loads(lab.occ("config:app:get", "spreed", "turn_servers"))
    lab.occ("config:app:set", "spreed", "turn_servers", "--value=[]")
    run = talkdeploy("apply", "-i", str(lab.inventory), "--yes", "--limit", "nextcloud")
    assert run.code == 0, run.stdout + run.stderr[-3000:]
    assert run.data["changed"] > 0, run.data["hosts"]
    assert any(c["kind"] == "talk" for c in run.data["hosts"][lab.nextcloud]["changes"])
    assert json.loads(lab.occ("config:app:get", "spreed", "turn_servers")) == deployed
    verified = talkdeploy("verify", "-i", str(lab.inventory))
    assert verified.code == 0, failed_checks(verified) or verified.stderr[-3000:]
    assert_secret_hidden(lab, run, verified)


def test_ansible_playbook_limited_to_nextcloud_runs_talk_alone(lab: Lab) -> None:
    lab.occ("config:app:set", "spreed", "turn_servers", "--value=[]")
    runs = [site_limited_to_nextcloud(lab) for _ in range(2)]  # restores, then no change
    first, second = runs
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    recap = second.stdout.rpartition("PLAY RECAP")[2]
    assert lab.nextcloud in recap and " changed=0 " in recap, recap
    assert lab.turn not in recap  # limited out: nothing ran on it
    assert "changed=0" not in first.stdout.rpartition("PLAY RECAP")[2]
    secret = lab.secret()
    for run in runs:
        assert secret not in run.stdout + run.stderr
    verified = talkdeploy("verify", "-i", str(lab.inventory))
    assert verified.code == 0, failed_checks(verified) or verified.stderr[-3000:]


def test_a_turn_server_without_secret_anywhere_is_named(lab: Lab, tmp_path: Path) -> None:
    # A TURN server that is a name in the inventory only: no container, no secret stored.
    ghost = f"turn-ghost.{lab.name}.test"
    inventory = with_extra_turn_server(lab, tmp_path, ghost)
    before = lab.occ("config:app:get", "spreed", "turn_servers").strip()
    run = talkdeploy("apply", "-i", str(inventory), "--yes", "--limit", "nextcloud")
    assert run.code == 2, run.stdout + run.stderr[-3000:]
    (failure,) = run.data["failures"]
    assert failure["task"] == "TURN servers of the inventory expose their endpoint and secret"
    message = failure["msg"]
    assert message.startswith(f"TURN server {ghost}: no secret for Talk: ")
    assert "coturn_static_auth_secret is not in the inventory for it" in message
    # `docker exec` into a container that does not exist, as the lab's connection reports it
    # (the CLI pipelines: Ansible finds no module result, the stderr says why).
    assert "Ansible could not run on it: " in message
    assert f"No such container: {ghost}" in message
    assert f"talkdeploy secret set -i INVENTORY --host {ghost}" in message
    assert lab.turn not in message  # the deployed TURN server is complete
    assert lab.occ("config:app:get", "spreed", "turn_servers").strip() == before
    assert_secret_hidden(lab, run)


def test_a_reachable_turn_server_without_coturn_is_named(lab: Lab, tmp_path: Path) -> None:
    # A TURN server Ansible reaches (the lab's client container) that talkdeploy never
    # deployed: its coturn package (for turnutils_uclient) left a turnserver.conf without
    # any static-auth-secret.
    conf = lab.exec(lab.client, "cat", "/etc/turnserver.conf")
    assert not re.search(r"^\s*static-auth-secret\s*=", conf, re.MULTILINE)
    fresh = f"turn-fresh.{lab.name}.test"
    reached_as = f"          ansible_host: {lab.client}\n"
    inventory = with_extra_turn_server(lab, tmp_path, fresh, reached_as)
    run = talkdeploy("apply", "-i", str(inventory), "--yes", "--limit", "nextcloud")
    assert run.code == 2, run.stdout + run.stderr[-3000:]
    (failure,) = run.data["failures"]
    assert failure["msg"] == (
        f"TURN server {fresh}: no secret for Talk: coturn_static_auth_secret is not in the "
        "inventory for it, and its turnserver.conf (/etc/turnserver.conf) has no "
        f"static-auth-secret line. Deploy coturn on it first (playbooks/site.yml, or talkdeploy "
        f"apply --limit {fresh}), or store the secret it uses in the inventory (talkdeploy "
        f"secret set -i INVENTORY --host {fresh})."
    )
    assert_secret_hidden(lab, run)
