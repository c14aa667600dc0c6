"""The docker, aio and snap occ presets (roles/nextcloud_talk/vars/main.yml) run for real.

`bare` is the lab's (tests/test_talk_only.py); here the nextcloud_talk role runs alone, through
`ansible-playbook` (TURN servers given by inventory values, never contacted), once per preset,
against the occ EMULATOR (molecule/shared/occ_emulator, the one stand-in, installed with
talkdeploy/lab_occ.py) laid out where each preset's command finds occ:

- docker, aio: the Ansible host is this machine (connection local) and the role's argv is a
  real `docker exec -i` into a container this module starts: a unique name for docker, AIO's
  fixed `nextcloud-aio-nextcloud` for aio. Both have the working directory of the official
  images, /var/www/html (docker-library/php Dockerfile-linux.template `WORKDIR /var/www/html`,
  the base of nextcloud/docker's images and of nextcloud/all-in-one
  Containers/nextcloud/Dockerfile, `FROM php:8.4-fpm-alpine`), which `php occ` resolves against.
- snap: the Ansible host is the docker preset's container, reached with the docker connection
  as a remote host is, with become (sudo, Debian's secure_path), and /snap/bin/nextcloud.occ
  (SNAP_WRAPPER below) running that host's php as root. Not the controller with a PATH
  override: that would hide how the command is found on a real host (it hid that Debian's sudo
  drops /snap/bin from PATH, which broke the preset `nextcloud.occ`).

Two containers for the module; php-cli is installed once (the aio container starts from an
image committed from the first). The module removes exactly what it created.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from labkit import ROOT

from talkdeploy import lab as labs
from talkdeploy.lab_occ import install_emulator

pytestmark = pytest.mark.docker

IMAGE = "talkdeploy-test/debian12"
AIO_CONTAINER = "nextcloud-aio-nextcloud"  # fixed by the preset, as in AIO
WORKDIR = "/var/www/html"
SNAP = "/snap/nextcloud/current"
LABEL = "talkdeploy.test.occ_presets"
TURN_NAME = "turn.occ-presets.test"  # .test: never a real host (RFC 2606)
DOCKER_TIMEOUT = 120.0
APT_TIMEOUT = 600.0
PLAYBOOK_TIMEOUT = 300.0

# snapd runs /snap/bin/nextcloud.occ as the snap's app `occ`, `command: bin/occ`
# (nextcloud-snap snap/snapcraft.yaml); src/nextcloud/bin/occ refuses non-root, waits for its
# services, then `run-php "$SNAP/htdocs/occ" "$@"`; src/php/bin/run-php is
# `php -c "$SNAP/config/php" "$@"`. The three in one, minus the waits (no services here):
# argv and stdin reach occ untouched, which runs as root.
SNAP_WRAPPER = f"""#!/bin/sh -e
# Test stand-in for the Nextcloud snap's occ command (nextcloud-snap src/nextcloud/bin/occ).
SNAP={SNAP}
if [ "$(id -u)" -ne 0 ]; then
\techo "This utility needs to run as root"
\texit 1
fi
exec php -c "$SNAP/config/php" "$SNAP/htdocs/occ" "$@"
"""


@dataclass(frozen=True)
class Hosts:
    docker: str  # the docker preset's Nextcloud container, also the snap host


def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        ["docker", *argv], capture_output=True, text=True, check=False, timeout=DOCKER_TIMEOUT
    )
    if check and run.returncode != 0:
        raise AssertionError(f"docker {' '.join(argv[:3])}: {run.stderr.strip()}")
    return run


def start(name: str, image: str, tag: str) -> str:
    """A plain container (no systemd, like the official images) in the images' WORKDIR."""
    run = docker(
        "run", "--detach", "--name", name, "--hostname", name, "--label", f"{LABEL}={tag}",
        "--workdir", WORKDIR, image, "sleep", "infinity",
    )  # fmt: skip
    return run.stdout.strip()


@pytest.fixture(scope="module")
def hosts(debian12: None) -> Iterator[Hosts]:
    if docker("container", "inspect", AIO_CONTAINER, check=False).returncode == 0:
        pytest.skip(
            f"a container named {AIO_CONTAINER} exists and this test did not create it; "
            "the aio preset's name is fixed, so the test will not touch it"
        )
    tag = uuid.uuid4().hex[:8]
    name = f"talkdeploy-occ-presets-{tag}"
    image = f"talkdeploy-occ-presets:{tag}"
    created: list[str] = []  # container ids: never a name another run may hold
    committed = False
    bounded = partial(labs._docker, timeout=DOCKER_TIMEOUT)
    try:
        created.append(start(name, IMAGE, tag))
        labs._apt_install(name, "php-cli", timeout=APT_TIMEOUT)
        docker("commit", name, image)
        committed = True
        created.append(start(AIO_CONTAINER, image, tag))
        install_emulator(name, ROOT, WORKDIR, bounded)
        install_emulator(AIO_CONTAINER, ROOT, WORKDIR, bounded)
        # Everything in the snap is root's, its config.php included (snapcraft.yaml
        # nextcloud-customizations: config/ -> htdocs/config/).
        install_emulator(name, ROOT, f"{SNAP}/htdocs", bounded, owner="root")
        bounded(
            "exec", "-i", name, "sh", "-ec",
            f"install -d {SNAP}/config/php /snap/bin; cat > /snap/bin/nextcloud.occ; "
            "chmod 0755 /snap/bin/nextcloud.occ",
            input_bytes=SNAP_WRAPPER.encode(),
        )  # fmt: skip
        yield Hosts(docker=name)
    finally:
        for container_id in created:
            docker("rm", "--force", "--volumes", container_id, check=False)
        if committed:
            docker("image", "rm", "--force", image, check=False)


def occ_argv(preset: str, hosts: Hosts) -> list[str]:
    """The command the preset runs, as run on its Ansible host, for reading Talk back."""
    return {
        "docker": ["docker", "exec", "-i", "-u", "www-data", hosts.docker, "php", "occ"],
        "aio": ["docker", "exec", "-i", "--user", "www-data", AIO_CONTAINER, "php", "occ"],
        # On the snap host, as the docker connection runs the role's commands there.
        "snap": ["docker", "exec", "-i", hosts.docker, "/snap/bin/nextcloud.occ"],
    }[preset]


def inventory(preset: str, hosts: Hosts, secret: str) -> str:
    if preset == "snap":
        nextcloud = {
            "ansible_connection": "community.docker.docker",
            "ansible_host": hosts.docker,
            "ansible_python_interpreter": "/usr/bin/python3",
        }
    else:
        nextcloud = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "talk_docker_container": hosts.docker,
        }
    data = {
        "all": {
            "children": {
                "nextcloud": {
                    "hosts": {f"nc-{preset}": {**nextcloud, "talk_nextcloud_install": preset}}
                },
                "turn_servers": {
                    "hosts": {
                        TURN_NAME: {
                            # Never contacted: a container that does not exist fails loudly.
                            "ansible_connection": "community.docker.docker",
                            "ansible_host": f"no-such-container-{uuid.uuid4().hex[:8]}",
                            "coturn_listening_port": 3478,
                            "coturn_static_auth_secret": secret,
                        }
                    }
                },
            }
        }
    }
    return json.dumps(data, indent=2)  # JSON is YAML


PLAYBOOK = """\
- name: Nextcloud Talk uses the TURN servers (the role alone)
  hosts: nextcloud
  become: true
  gather_facts: false
  roles:
    - talkdeploy.talk.nextcloud_talk
"""


def ansible_playbook(directory: Path) -> subprocess.CompletedProcess[str]:
    playbook = str(Path(sys.executable).parent / "ansible-playbook")
    return subprocess.run(
        [playbook, "-i", str(directory / "hosts.yml"), str(directory / "talk.yml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=PLAYBOOK_TIMEOUT,
        env={
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".ansible" / "collections"),
            "ANSIBLE_NOCOLOR": "1",
        },
    )


def recap_changed(run: subprocess.CompletedProcess[str], host: str) -> int:
    recap = run.stdout.rpartition("PLAY RECAP")[2]
    assert TURN_NAME not in recap  # the TURN server is not in the run
    match = re.search(rf"^{re.escape(host)}\s+:.*\bchanged=(\d+)\b.*\bfailed=0\b", recap, re.M)
    assert match, recap
    return int(match.group(1))


@pytest.mark.parametrize("preset", ["docker", "aio", "snap"])
def test_preset_configures_talk_idempotently(preset: str, hosts: Hosts, tmp_path: Path) -> None:
    secret = secrets.token_hex(32)  # coturn's check: 32+ hex digits
    (tmp_path / "hosts.yml").write_text(inventory(preset, hosts, secret))
    (tmp_path / "talk.yml").write_text(PLAYBOOK)
    occ = occ_argv(preset, hosts)

    def talk_setting(key: str) -> object:
        argv = [*occ, "config:app:get", "spreed", key, "--no-warnings"]
        got = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        assert got.returncode == 0, got.stdout + got.stderr
        return json.loads(got.stdout)

    unset = subprocess.run([*occ, "config:app:get", "spreed", "turn_servers"],
                           capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert unset.returncode == 1, unset.stdout + unset.stderr  # a fresh Nextcloud: not set

    first = ansible_playbook(tmp_path)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert recap_changed(first, f"nc-{preset}") > 0
    second = ansible_playbook(tmp_path)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert recap_changed(second, f"nc-{preset}") == 0, second.stdout[-4000:]

    # What the role wants for a TURN server without TLS (no certificate) on 3478, UDP and TCP
    # (plugins/filter/talk.py talk_turn_entries, talk_reconcile_stun: Talk's default kept).
    server = f"{TURN_NAME}:3478"
    assert talk_setting("turn_servers") == [
        {"schemes": "turn", "server": server, "secret": secret, "protocols": "udp,tcp"}
    ]
    assert talk_setting("stun_servers") == [server, "stun.nextcloud.com:443"]
    for run in (first, second):
        assert secret not in run.stdout + run.stderr
