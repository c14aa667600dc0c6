"""The lab: three local systemd containers that stand in for a real deployment.

`up` starts a TURN server, a "nextcloud" host carrying the occ emulator (a stand-in
for Nextcloud's `occ`, named as such wherever it appears) and a client, each with
its own network namespace on a Docker network of the lab's own, and writes an
Ansible inventory for them (community.docker connection: no SSH keys). `down`
removes exactly what `up` created, found by the `talkdeploy.lab` label; `status`
lists it. Containers are started with exactly the options written once in
molecule/shared/platform.yml, so a lab host behaves like a molecule host: real
systemd, port 443 privileged as on a real machine.

The lab needs a source checkout (that platform file, the occ emulator and the base
images built by scripts/build-images.sh); an installed wheel says so.

Traffic: the lab only talks to Docker and to the containers it started.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from talkdeploy import lab_ssh
from talkdeploy.lab_ssh import SshAccess

LABEL = "talkdeploy.lab"  # value: the lab's name; every container and the network carry it
ROLE_LABEL = "talkdeploy.lab.role"  # turn | nextcloud | client | network
DISTRO_LABEL = "talkdeploy.lab.distro"
DEFAULT_NAME = "talkdeploy-lab"
DEFAULT_DIR = Path("inventories/lab")
DISTROS = ("debian12", "debian13")
IMAGE = "talkdeploy-test/{distro}"

# Role of each container -> inventory group it belongs to.
ROLES: Mapping[str, str] = {
    "turn": "turn_servers",
    "nextcloud": "nextcloud",
    "client": "lab_clients",
}

# Where `up` puts the self-signed certificate on the TURN container.
TLS_DIR_ON_TURN = "/etc/talkdeploy-lab/tls"
TURN_CERT = f"{TLS_DIR_ON_TURN}/turn.crt"
TURN_KEY = f"{TLS_DIR_ON_TURN}/turn.key"
# The same CA on the client container, for TLS tests run from there.
CLIENT_CA = "/etc/talkdeploy-lab/ca.crt"
# Where the occ emulator lives on the nextcloud container, as on a Debian Nextcloud.
NEXTCLOUD_DIR = "/var/www/nextcloud"
PROVISIONED_MARKER = "/etc/talkdeploy-lab-provisioned"

# The roles `lab up --ssh` reaches over SSH; the client stays a `docker exec` test tool.
SSH_ROLES = ("turn", "nextcloud")

Say = Callable[[str], None]
T = TypeVar("T")


class LabError(RuntimeError):
    """Something the operator can fix; the message says how."""


@dataclass(frozen=True)
class Member:
    """One container of the lab, as Docker reports it."""

    name: str
    role: str
    distro: str
    state: str
    address: str | None
    lab: str = DEFAULT_NAME

    def as_dict(self) -> dict[str, str | None]:
        return {
            "lab": self.lab,
            "name": self.name,
            "role": self.role,
            "group": ROLES.get(self.role),
            "distro": self.distro,
            "state": self.state,
            "address": self.address,
        }


@dataclass
class LabUp:
    """What `up` built: the containers, the inventory and the CA a verifier trusts."""

    name: str
    distro: str
    directory: Path
    network: str
    subnet: str
    members: list[Member]
    inventory: Path
    ca_certificate: Path
    created: list[str] = field(default_factory=list)
    ssh: dict[str, SshAccess] = field(default_factory=dict)  # container -> how SSH reaches it

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ssh": {name: access.as_dict() for name, access in self.ssh.items()},
            "distro": self.distro,
            "network": self.network,
            "subnet": self.subnet,
            "inventory": str(self.inventory),
            "ca_certificate": str(self.ca_certificate),
            "created": self.created,
            "members": [member.as_dict() for member in self.members],
        }


# --------------------------------------------------------------------------- pure helpers


def container_name(lab: str, role: str) -> str:
    return f"{lab}-{role}"


def turn_public_name(lab: str) -> str:
    """The TURN server's DNS name inside the lab (a Docker network alias).

    A name, as in production: certificates and Talk's `turns:` need one. `.test` is
    reserved (RFC 2606), so the name can never mean a real host; the lab's containers
    resolve it through Docker's DNS, and this workstation never needs to (it probes
    `talkdeploy_probe_address`).
    """
    return f"turn.{lab}.test"


def run_arguments(platform: Mapping[str, Any]) -> list[str]:
    """`docker run` options for a systemd host, from platform.yml's talkdeploy_platform_defaults.

    molecule/shared/create.yml passes the same keys to community.docker.docker_container.
    """
    args = [f"--cap-add={cap}" for cap in platform["capabilities"]]
    args += [f"--security-opt={opt}" for opt in platform["security_opts"]]
    args.append(f"--cgroupns={platform['cgroupns_mode']}")
    args += [arg for volume in platform["volumes"] for arg in ("--volume", volume)]
    args += [f"--tmpfs={path}" for path in platform["tmpfs"]]
    args += [f"--sysctl={key}={value}" for key, value in platform["sysctls"].items()]
    args.append(f"--stop-signal={platform['stop_signal']}")
    return args


def inventory_text(
    *,
    lab: str,
    distro: str,
    addresses: Mapping[str, str],
    subnet: str,
    ca_certificate: Path,
    written_at: dt.datetime,
    ssh: Mapping[str, SshAccess] | None = None,
) -> str:
    """The lab's Ansible inventory: plain YAML with a comment on every choice.

    `ssh` (role -> access, from `lab up --ssh`): those hosts are reached over SSH as a sudo
    user; the others, and all of them without it, with `docker exec`.
    """
    turn = container_name(lab, "turn")
    nextcloud = container_name(lab, "nextcloud")
    client = container_name(lab, "client")
    turn_address = addresses["turn"]
    public_name = turn_public_name(lab)
    turn_ssh = _ssh_host_vars((ssh or {}).get("turn"))
    nextcloud_ssh = _ssh_host_vars((ssh or {}).get("nextcloud"))
    # With --ssh, SSH hosts carry no ansible_connection, as in an operator's inventory: a
    # host's ansible_connection would win over `--connection paramiko` (variable precedence).
    docker_connection = "ansible_connection: community.docker.docker"
    all_connection = "" if ssh else f"    {docker_connection}\n"
    client_connection = f"          {docker_connection}\n" if ssh else ""
    return f"""\
# The talkdeploy lab's inventory, written by `talkdeploy lab up` ({written_at:%Y-%m-%d %H:%M} UTC).
# Lab `{lab}` on {distro}: three local containers on the Docker network {lab} ({subnet}).
#   {turn:<28} TURN server: real coturn, real nftables firewall
#   {nextcloud:<28} "Nextcloud": the occ EMULATOR, a stand-in for Nextcloud's occ
#   {client:<28} a client with turnutils_uclient
{_connection_comment(ssh or {})}
# `talkdeploy lab up` rewrites this file; `talkdeploy lab down` removes the containers.
all:
  vars:
{all_connection}    ansible_python_interpreter: /usr/bin/python3
  children:
    turn_servers:
      hosts:
        {turn}:
{turn_ssh}          # Where talkdeploy verify, on this workstation, sends its STUN/TURN probes:
          # the container's address on the lab network, routed by the Docker bridge.
          talkdeploy_probe_address: {turn_address}
          # The CA that signed the lab's self-signed certificate, so the TLS probe verifies it.
          talkdeploy_probe_ca_file: {ca_certificate}
      vars:
        # Talk hands this name to browsers. The lab's containers resolve it to {turn_address}
        # (a Docker network alias); the certificate below is issued for it.
        coturn_public_name: {public_name}
        coturn_listening_port: 443
        coturn_tls_listening_port: 5349
        # Placed on the container by `lab up`, signed by the CA above (TLS on 443 and 5349).
        coturn_cert: {TURN_CERT}
        coturn_pkey: {TURN_KEY}
        # 443 is privileged in the lab as on a real host; coturn gets the capability.
        coturn_privileged_port_method: setcap
        coturn_realm: {lab}.test
        # Lab addresses are private, and the deny list refuses relaying to private
        # addresses. In production the relay addresses are public, so client-to-client
        # relaying (two browsers both behind the TURN server) works without this; in the
        # lab the TURN server's own relay address must be allowed explicitly. Only that
        # one address: every other lab container stays a denied peer.
        coturn_allowed_peer_ips:
          - {turn_address}
        firewall_backend: nftables
    nextcloud:
      hosts:
        {nextcloud}:
{nextcloud_ssh}      vars:
        # The occ emulator is installed like a tarball Nextcloud (no Docker image, no snap):
        # `sudo -u www-data php {NEXTCLOUD_DIR}/occ`.
        talk_nextcloud_install: bare
        talk_nextcloud_path: {NEXTCLOUD_DIR}
    lab_clients:
      hosts:
        {client}:
{client_connection}"""


def _connection_comment(ssh: Mapping[str, SshAccess]) -> str:
    if not ssh:
        return (
            "# Ansible reaches them with `docker exec` (community.docker.docker connection): "
            "no SSH, no keys."
        )
    names = ", ".join(sorted(ssh))
    return (
        f"# `--ssh`: Ansible reaches the {names} hosts over SSH, as the non-root sudo user\n"
        "# `deploy`, with the lab's own key and known_hosts file (.ssh/ next to this file:\n"
        "# an unknown or changed host key is refused); the others with `docker exec`."
    )


def _ssh_host_vars(access: SshAccess | None) -> str:
    if access is None:
        return ""
    # JSON scalars are YAML scalars: a path with spaces or a colon stays one string.
    return "".join(
        f"          {key}: {json.dumps(value)}\n" for key, value in access.host_vars().items()
    )


def parse_members(inspected: Iterable[Mapping[str, Any]], network: str) -> list[Member]:
    """Members from `docker inspect` output, in role order (turn, nextcloud, client)."""
    members = []
    for item in inspected:
        labels = item.get("Config", {}).get("Labels") or {}
        networks = item.get("NetworkSettings", {}).get("Networks") or {}
        address = (networks.get(network) or {}).get("IPAddress") or None
        members.append(
            Member(
                name=str(item["Name"]).lstrip("/"),
                role=labels.get(ROLE_LABEL, "?"),
                distro=labels.get(DISTRO_LABEL, "?"),
                state=item.get("State", {}).get("Status", "?"),
                address=address,
                lab=labels.get(LABEL, DEFAULT_NAME),
            )
        )
    return sorted(members, key=_member_order)


def _member_order(member: Member) -> tuple[str, int, str]:
    order = list(ROLES)
    return (member.lab, order.index(member.role) if member.role in order else 99, member.name)


# --------------------------------------------------------------------------- the checkout


def find_checkout(start: Path | None = None) -> Path:
    """The source checkout the lab needs: platform.yml, the occ emulator, the image builder."""
    candidates = [Path(__file__).resolve().parent.parent]
    here = (start or Path.cwd()).resolve()
    candidates += [here, *here.parents]
    for root in candidates:
        if (root / "molecule" / "shared" / "platform.yml").is_file():
            return root
    raise LabError(
        "the lab needs a talkdeploy source checkout (molecule/shared/platform.yml, the occ "
        "emulator in molecule/shared/occ_emulator/ and scripts/build-images.sh), which an "
        "installed wheel does not carry; clone the repository and run `make demo` there, "
        "or run `talkdeploy lab up` from inside the clone"
    )


def load_platform(checkout: Path) -> dict[str, Any]:
    data = yaml.safe_load((checkout / "molecule" / "shared" / "platform.yml").read_text())
    platform: dict[str, Any] = data["talkdeploy_platform_defaults"]
    return platform


# --------------------------------------------------------------------------- docker


def _docker(
    *args: str, input_bytes: bytes | None = None, check: bool = True, timeout: float | None = None
) -> str:
    if shutil.which("docker") is None:
        raise LabError("the docker command is not installed; run `make docker` (Debian, as root)")
    try:
        run = subprocess.run(
            ["docker", *args], input=input_bytes, capture_output=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        raise LabError(f"`docker {' '.join(args[:3])} ...` took over {timeout:.0f}s") from error
    if check and run.returncode != 0:
        message = (run.stderr or run.stdout).decode(errors="replace").strip()
        raise LabError(f"`docker {' '.join(args[:3])} ...` failed: {message}")
    return run.stdout.decode(errors="replace")


def _exec(
    container: str, script: str, *, user: str | None = None, timeout: float | None = None
) -> str:
    as_user = ["--user", user] if user else []
    return _docker("exec", *as_user, container, "sh", "-ec", script, timeout=timeout)


def _require_engine_and_image(image: str) -> None:
    if shutil.which("docker") is None:
        raise LabError("the docker command is not installed; run `make docker` (Debian, as root)")
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        raise LabError("no Docker engine answers `docker info`; run `make docker`")
    missing = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    if missing.returncode != 0:
        raise LabError(
            f"the base image {image} is missing; build it with `make images` "
            "(or scripts/build-images.sh, which needs debootstrap and root)"
        )


def _labelled(kind: str, lab: str | None) -> list[str]:
    selector = f"{LABEL}={lab}" if lab else LABEL
    if kind == "container":
        out = _docker("ps", "--all", "--quiet", "--filter", f"label={selector}")
    else:
        out = _docker("network", "ls", "--quiet", "--filter", f"label={selector}")
    return out.split()


def _inspect(ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    result: list[dict[str, Any]] = json.loads(_docker("inspect", *ids))
    return result


def status(lab: str | None = None) -> list[Member]:
    """Every container carrying the lab label (of one lab, or of all labs)."""
    inspected = _inspect(_labelled("container", lab))
    members: list[Member] = []
    for item in inspected:
        labels = item.get("Config", {}).get("Labels") or {}
        members += parse_members([item], str(labels.get(LABEL, DEFAULT_NAME)))
    return sorted(members, key=_member_order)


def down(lab: str = DEFAULT_NAME, say: Say | None = None) -> list[str]:
    """Remove the containers and the network labelled as this lab's; nothing else."""
    removed: list[str] = []
    for item in _inspect(_labelled("container", lab)):
        name = str(item["Name"]).lstrip("/")
        _docker("rm", "--force", "--volumes", item["Id"])
        removed.append(name)
        if say:
            say(f"removed container {name}")
    for network_id in _labelled("network", lab):
        name = json.loads(_docker("network", "inspect", network_id))[0]["Name"]
        _docker("network", "rm", network_id)
        removed.append(name)
        if say:
            say(f"removed network {name}")
    return removed


# --------------------------------------------------------------------------- up


def up(
    distro: str = "debian12",
    directory: Path = DEFAULT_DIR,
    lab: str = DEFAULT_NAME,
    say: Say | None = None,
    ssh: bool = False,
) -> LabUp:
    """Start (or complete) the lab and write its inventory under `directory`.

    `ssh`: the TURN and Nextcloud hosts are reached over SSH (talkdeploy/lab_ssh.py).
    """
    tell: Say = say or (lambda _message: None)
    if distro not in DISTROS:
        raise LabError(f"unknown distro {distro!r}; choose one of {', '.join(DISTROS)}")
    if ssh:
        _as_lab_error(lab_ssh.require_client_tools)
    checkout = find_checkout()
    platform = load_platform(checkout)
    image = IMAGE.format(distro=distro)
    _require_engine_and_image(image)

    existing = status(lab)
    other = {m.distro for m in existing} - {distro}
    if other:
        raise LabError(
            f"lab {lab} is already up with {', '.join(sorted(other))}; "
            "run `talkdeploy lab down` first to start it on another distro"
        )

    network = lab
    created: list[str] = []
    if not _labelled("network", lab):
        tell(f"creating network {network}")
        _docker("network", "create", "--label", f"{LABEL}={lab}", "--label",
                f"{ROLE_LABEL}=network", network)  # fmt: skip
        created.append(network)

    by_name = {m.name: m for m in existing}
    for role in ROLES:
        name = container_name(lab, role)
        member = by_name.get(name)
        if member and member.state == "running":
            continue
        if member:  # stopped or half-created: start it again from scratch
            _docker("rm", "--force", name)
        tell(f"starting {name} ({image})")
        _docker(
            "run", "--detach", "--name", name, "--hostname", name,
            "--network", network,
            *(["--network-alias", turn_public_name(lab)] if role == "turn" else []),
            "--label", f"{LABEL}={lab}", "--label", f"{ROLE_LABEL}={role}",
            "--label", f"{DISTRO_LABEL}={distro}",
            *run_arguments(platform), image, platform["command"],
        )  # fmt: skip
        created.append(name)

    names = [container_name(lab, role) for role in ROLES]
    tell("waiting for systemd to boot in each container")
    for name in names:
        _wait_for_systemd(name)

    members = status(lab)
    addresses = {m.role: m.address for m in members if m.address}
    if set(addresses) != set(ROLES):
        raise LabError(f"could not read the lab's addresses from Docker: {addresses}")
    subnet = _subnet(network)

    directory = directory.resolve()
    # A hidden directory: Ansible reads every other file under an inventory directory
    # as an inventory source.
    tls_dir = directory / ".tls"
    ca_file = tls_dir / "ca.crt"
    turn = container_name(lab, "turn")
    client = container_name(lab, "client")
    if (
        turn in created
        or not ca_file.is_file()
        or not _has_file(turn, TURN_CERT)
        or not _has_file(client, CLIENT_CA)
    ):
        tell(f"issuing a self-signed certificate for {turn_public_name(lab)} (CA: {ca_file})")
        _install_certificate(turn, turn_public_name(lab), addresses["turn"], ca_file)
        _docker(
            "exec", "-i", client, "sh", "-ec",
            f"install -d -m 0755 {Path(CLIENT_CA).parent}; cat > {CLIENT_CA}",
            input_bytes=ca_file.read_bytes(),
        )  # fmt: skip

    nextcloud = container_name(lab, "nextcloud")
    ssh_roles = SSH_ROLES if ssh else ()
    tell(
        "installing the lab's tools: the occ emulator (php-cli) and turnutils_uclient"
        + (", openssh-server" if ssh else "")
    )
    # One job per container: apt runs once at a time on each.
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [
            pool.submit(_provision_nextcloud, nextcloud, checkout, "nextcloud" in ssh_roles),
            pool.submit(_provision_client, client),
            *([pool.submit(_install_sshd, turn)] if "turn" in ssh_roles else []),
        ]
        for job in jobs:
            job.result()
    access: dict[str, SshAccess] = {}
    for role in ssh_roles:  # one at a time: they share the lab's known_hosts file
        name = container_name(lab, role)
        tell(f"{name}: SSH as {lab_ssh.SSH_USER} with the lab's key, host key recorded")
        access[role] = _as_lab_error(lab_ssh.enable, name, addresses[role], directory, _docker)

    inventory = directory / "hosts.yml"
    inventory.parent.mkdir(parents=True, exist_ok=True)
    inventory.write_text(
        inventory_text(
            lab=lab,
            distro=distro,
            addresses=addresses,
            subnet=subnet,
            ca_certificate=ca_file,
            written_at=dt.datetime.now(dt.UTC),
            ssh=access,
        )
    )
    tell(f"wrote {inventory}")
    return LabUp(
        name=lab,
        distro=distro,
        directory=directory,
        network=network,
        subnet=subnet,
        members=members,
        inventory=inventory,
        ca_certificate=ca_file,
        created=created,
        ssh={container_name(lab, role): reach for role, reach in access.items()},
    )


def _wait_for_systemd(name: str, timeout: float = 120.0) -> None:
    """`systemctl is-system-running --wait`, retried while systemd is too young to answer."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = _docker(
            "exec", name, "systemctl", "is-system-running", "--wait", check=False
        ).strip()
        if state in ("running", "degraded"):
            return
        if state not in ("", "initializing", "starting", "offline", "unknown"):
            break  # maintenance, stopping: it will not become ready
        time.sleep(0.5)
    raise LabError(
        f"systemd in {name} did not boot (state {state or 'unknown'!r}); see `docker logs {name}`"
    )


def _subnet(network: str) -> str:
    info = json.loads(_docker("network", "inspect", network))[0]
    configs = (info.get("IPAM") or {}).get("Config") or []
    for config in configs:
        subnet = config.get("Subnet")
        if subnet and ipaddress.ip_network(subnet).version == 4:
            return str(subnet)
    raise LabError(f"network {network} has no IPv4 subnet")


def _has_file(container: str, path: str) -> bool:
    check = subprocess.run(
        ["docker", "exec", container, "test", "-s", path], capture_output=True, check=False
    )
    return check.returncode == 0


def _install_certificate(turn: str, public_name: str, address: str, ca_file: Path) -> None:
    """A fresh CA and a server certificate for the TURN container; the CA key is discarded."""
    from talkdeploy.lab_tls import issue

    bundle = issue(common_name=public_name, addresses=[address], dns_names=[public_name, turn])
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    ca_file.write_bytes(bundle.ca_certificate)
    # The key is written root-only; the coturn role grants its service user read access.
    _docker(
        "exec", "-i", turn, "sh", "-ec",
        f"install -d -m 0755 {Path(TLS_DIR_ON_TURN).parent} {TLS_DIR_ON_TURN}; umask 077; "
        f"cat > {TURN_KEY}",
        input_bytes=bundle.key,
    )  # fmt: skip
    _docker(
        "exec", "-i", turn, "sh", "-ec", f"cat > {TURN_CERT}; chmod 0644 {TURN_CERT}",
        input_bytes=bundle.certificate + bundle.ca_certificate,
    )  # fmt: skip


def _apt_install(container: str, packages: str, timeout: float | None = None) -> None:
    # policy-rc.d keeps packages (coturn) from starting services while they install.
    _exec(
        container,
        "export DEBIAN_FRONTEND=noninteractive\n"
        "trap 'rm -f /usr/sbin/policy-rc.d' EXIT\n"
        "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d\n"
        "chmod +x /usr/sbin/policy-rc.d\n"
        "apt-get update -qq\n"
        f"apt-get install -y -qq --no-install-recommends {packages} >/dev/null\n",
        timeout=timeout,
    )


def _provisioned(container: str, what: str) -> bool:
    check = subprocess.run(
        ["docker", "exec", container, "grep", "-qx", what, PROVISIONED_MARKER],
        capture_output=True,
        check=False,
    )
    return check.returncode == 0


def _mark_provisioned(container: str, what: str) -> None:
    _exec(container, f"echo {what} >> {PROVISIONED_MARKER}")


def _provision_client(client: str) -> None:
    """turnutils_uclient from Debian's coturn package; its server stays off."""
    if _provisioned(client, "client"):
        return
    _apt_install(client, "coturn")
    _exec(client, "systemctl disable --now coturn >/dev/null 2>&1 || true; systemctl mask coturn")
    _mark_provisioned(client, "client")


def _provision_nextcloud(nextcloud: str, checkout: Path, with_sshd: bool) -> None:
    """php-cli and the occ emulator, owned by www-data like a Debian Nextcloud install."""
    if not _provisioned(nextcloud, "nextcloud"):
        from talkdeploy.lab_occ import install_emulator

        _apt_install(nextcloud, "php-cli")
        install_emulator(nextcloud, checkout, NEXTCLOUD_DIR, _docker)
        _mark_provisioned(nextcloud, "nextcloud")
    if with_sshd:
        _install_sshd(nextcloud)


def _install_sshd(container: str) -> None:
    """openssh-server and sudo from Debian, sshd enabled and running (talkdeploy/lab_ssh.py)."""
    if not _provisioned(container, "sshd"):
        _apt_install(container, "openssh-server sudo")
        _mark_provisioned(container, "sshd")
    _exec(container, "systemctl enable --now ssh >/dev/null 2>&1")


def _as_lab_error(function: Callable[..., T], *args: Any) -> T:
    try:
        return function(*args)
    except (lab_ssh.SshLabError, subprocess.CalledProcessError) as error:
        raise LabError(str(error)) from error
