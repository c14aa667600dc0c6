"""A renewed certificate reaches coturn without a run of talkdeploy (roles/coturn, tls_watch.yml).

On the session lab (tests/labkit.py): the TURN container's source certificate and key are
replaced as acme.sh does (files rewritten in place) and as certbot does (a symlink swapped to a
new archive file); within a bounded wait coturn serves the new certificate on 5349 and 443,
with the same main process (SIGUSR2, not a restart). A key that does not match is not copied.
The lab's CA key is thrown away by `lab up` (talkdeploy/lab_tls.py), so each new pair comes
with a throw-away CA of its own (talkdeploy.lab_tls.issue); the probe trusts those and the
lab's CA. The original pair is kept on the container and put back before the module ends.
No key material leaves the test process or the container, or appears in any message.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from labkit import Lab, talkdeploy

from talkdeploy.lab import TURN_CERT, TURN_KEY
from talkdeploy.lab_tls import TlsBundle, issue

pytestmark = pytest.mark.docker

PORTS = (5349, 443)
WAIT = 20.0  # seconds a renewal may take to be served
BACKUP = "/root/talkdeploy-test-cert-renewal"  # outside the watched directory
ARCHIVE = "/etc/talkdeploy-lab/archive"  # certbot-like archive/NAME/ for the symlink case
COPY = "/etc/coturn/tls/turn-cert.pem"


class Renewal:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        hosts = yaml.safe_load(lab.inventory.read_text())["all"]["children"]["turn_servers"]
        turn = hosts["hosts"][lab.turn]
        self.address: str = turn["talkdeploy_probe_address"]
        self.public_name: str = hosts["vars"]["coturn_public_name"]
        self.cas: list[bytes] = [Path(turn["talkdeploy_probe_ca_file"]).read_bytes()]

    def sh(self, script: str, data: bytes = b"") -> str:
        done = subprocess.run(
            ["docker", "exec", "-i", self.lab.turn, "sh", "-ec", script],
            input=data,
            capture_output=True,
            check=False,
        )
        # stderr only: nothing here prints a key, and the input is never shown
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        return done.stdout.decode()

    def new_pair(self) -> TlsBundle:
        bundle = issue(self.public_name, [self.address], [self.public_name, self.lab.turn])
        self.cas.append(bundle.ca_certificate)
        return bundle

    def write(self, path: str, data: bytes, mode: str) -> None:
        """In place, as acme.sh --install-cert does (truncate and write)."""
        self.sh(f"umask 077; rm -f {path}; cat > {path}; chmod {mode} {path}", data)

    def main_pid(self) -> str:
        return self.lab.exec(
            self.lab.turn, "systemctl", "show", "--value", "--property=MainPID", "coturn"
        ).strip()

    def served_serial(self, port: int) -> int | None:
        context = ssl.create_default_context(cadata="".join(c.decode() for c in self.cas))
        try:
            with (
                socket.create_connection((self.address, port), timeout=3) as raw,
                context.wrap_socket(raw, server_hostname=self.address) as tls,
            ):
                peer = tls.getpeercert()
        except (OSError, ssl.SSLError):
            return None
        return int(str(peer["serialNumber"]), 16) if peer else None

    def wait_served(self, serial: int) -> dict[int, int | None]:
        deadline = time.monotonic() + WAIT
        while True:
            served = {port: self.served_serial(port) for port in PORTS}
            if all(s == serial for s in served.values()) or time.monotonic() > deadline:
                return served
            time.sleep(0.5)

    def copy_sha(self) -> str:
        return self.sh(f"sha256sum {COPY}").split()[0]


def serial(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


@pytest.fixture(scope="module")
def renewal(deployed_lab: Lab) -> Iterator[Renewal]:
    r = Renewal(deployed_lab)
    r.sh(f"install -d -m 0700 {BACKUP}; cp -a {TURN_CERT} {TURN_KEY} {BACKUP}/")
    original = serial(r.sh(f"cat {TURN_CERT}").encode())
    try:
        yield r
    finally:
        # The lab's own pair back, as plain files; the watch copies it and reloads coturn.
        r.sh(
            f"rm -f {TURN_CERT} {TURN_KEY}; cp -a {BACKUP}/turn.key {TURN_KEY};"
            f" cp -a {BACKUP}/turn.crt {TURN_CERT}; rm -rf {BACKUP} {ARCHIVE}"
        )
        served = r.wait_served(original)
        if any(s != original for s in served.values()):
            talkdeploy("apply", "-i", str(r.lab.inventory), "--yes")  # the role copies it
        assert r.wait_served(original) == dict.fromkeys(PORTS, original)


def test_renewed_files_are_served_without_a_restart(renewal: Renewal) -> None:
    pid = renewal.main_pid()
    bundle = renewal.new_pair()
    renewal.write(TURN_KEY, bundle.key, "0600")  # the key first, as acme.sh does
    renewal.write(TURN_CERT, bundle.certificate + bundle.ca_certificate, "0644")
    started = time.monotonic()
    served = renewal.wait_served(serial(bundle.certificate))
    assert served == dict.fromkeys(PORTS, serial(bundle.certificate)), served
    print(f"renewal served after {time.monotonic() - started:.1f} s")
    assert renewal.main_pid() == pid, "coturn was restarted instead of reloaded"


def test_certbot_symlink_swap_is_served_without_a_restart(renewal: Renewal) -> None:
    pid = renewal.main_pid()
    first, second = renewal.new_pair(), renewal.new_pair()
    archive = f"{ARCHIVE}/turn"
    renewal.sh(f"install -d -m 0700 {ARCHIVE} {archive}")
    for version, bundle in ((1, first), (2, second)):
        renewal.write(f"{archive}/privkey{version}.pem", bundle.key, "0600")
        renewal.write(
            f"{archive}/fullchain{version}.pem", bundle.certificate + bundle.ca_certificate, "0644"
        )
    # live/ holds relative symlinks into archive/ (certbot storage.py new_lineage())
    renewal.sh(
        f"rm -f {TURN_CERT} {TURN_KEY};"
        f" ln -s ../archive/turn/fullchain1.pem {TURN_CERT};"
        f" ln -s ../archive/turn/privkey1.pem {TURN_KEY}"
    )
    assert renewal.wait_served(serial(first.certificate)) == dict.fromkeys(
        PORTS, serial(first.certificate)
    )
    # a renewal: each link unlinked and made again (certbot storage.py _update_link_to())
    renewal.sh(
        f"rm {TURN_CERT}; ln -s ../archive/turn/fullchain2.pem {TURN_CERT};"
        f" rm {TURN_KEY}; ln -s ../archive/turn/privkey2.pem {TURN_KEY}"
    )
    served = renewal.wait_served(serial(second.certificate))
    assert served == dict.fromkeys(PORTS, serial(second.certificate)), served
    assert renewal.main_pid() == pid, "coturn was restarted instead of reloaded"


def test_a_key_that_does_not_match_is_not_copied(renewal: Renewal) -> None:
    before = {port: renewal.served_serial(port) for port in PORTS}
    assert None not in before.values(), before
    copied = renewal.copy_sha()
    since = renewal.sh("date +%s").strip()
    other = renewal.new_pair()
    # a new certificate, the key left as it is: they do not belong together
    renewal.sh(f"rm -f {TURN_CERT}; cat > {TURN_CERT}", other.certificate + other.ca_certificate)
    deadline = time.monotonic() + WAIT
    refused = ""
    while time.monotonic() < deadline and "not copied" not in refused:
        time.sleep(1)
        refused = renewal.lab.exec(
            renewal.lab.turn, "journalctl", "-o", "cat", "--no-pager", f"--since=@{since}",
            "-u", "talkdeploy-coturn-tls.service",
        )  # fmt: skip
    assert "not copied: the key" in refused, refused[-2000:]
    assert "PRIVATE KEY" not in refused
    assert renewal.copy_sha() == copied
    assert {port: renewal.served_serial(port) for port in PORTS} == before


def test_apply_after_the_watch_copied_changes_nothing(renewal: Renewal) -> None:
    # the source pair belongs together again (the certificate of the key in place)
    key = renewal.sh(f"readlink -f {TURN_KEY}").strip()
    assert key.endswith("privkey2.pem"), key
    renewal.sh(f"rm -f {TURN_CERT}; ln -s ../archive/turn/fullchain2.pem {TURN_CERT}")
    pid = renewal.main_pid()
    time.sleep(7)  # the watch's run for this change has finished (it copies nothing new)
    run = talkdeploy("apply", "-i", str(renewal.lab.inventory), "--yes")
    assert run.code == 0, run.stderr[-3000:]
    host = run.data["hosts"][renewal.lab.turn]
    assert host["failed"] == 0 and host["changed"] == 0, host
    assert renewal.main_pid() == pid
