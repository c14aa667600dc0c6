"""`talkdeploy lab`: containers started like molecule's, an inventory Ansible reads, and a
`down` that removes exactly what `up` created.

The pure parts (docker options, inventory text, TLS material) run everywhere; the
`docker`-marked tests look at the session's deployed lab (tests/labkit.py), and `down` is
tested on containers of its own name.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from labkit import Lab

from talkdeploy import lab, lab_ssh
from talkdeploy.cli import main
from talkdeploy.lab_tls import issue

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "molecule" / "shared" / "platform.yml"


# --------------------------------------------------------------------------- pure parts


def test_containers_get_exactly_the_options_of_molecules_platform_file():
    platform = yaml.safe_load(PLATFORM.read_text())["talkdeploy_platform_defaults"]
    args = lab.run_arguments(platform)
    for cap in platform["capabilities"]:
        assert f"--cap-add={cap}" in args
    for key, value in platform["sysctls"].items():
        assert f"--sysctl={key}={value}" in args
    assert "--sysctl=net.ipv4.ip_unprivileged_port_start=1024" in args
    for volume in platform["volumes"]:
        assert args[args.index(volume) - 1] == "--volume"
    for path in platform["tmpfs"]:
        assert f"--tmpfs={path}" in args
    assert f"--cgroupns={platform['cgroupns_mode']}" in args
    assert f"--stop-signal={platform['stop_signal']}" in args
    # Never privileged (fails on the machines this is tested on) and never host networking.
    assert not any(arg.startswith(("--privileged", "--network")) for arg in args)


def _inventory(
    ca: Path = Path("/lab/tls/ca.crt"), ssh: dict[str, lab_ssh.SshAccess] | None = None
) -> str:
    return lab.inventory_text(
        lab="talkdeploy-lab",
        distro="debian12",
        addresses={"turn": "172.30.0.2", "nextcloud": "172.30.0.3", "client": "172.30.0.4"},
        subnet="172.30.0.0/16",
        ca_certificate=ca,
        written_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
        ssh=ssh,
    )


def test_ssh_inventory_reaches_turn_and_nextcloud_over_ssh_and_the_client_over_docker():
    ssh_dir = Path("/lab dir/.ssh")  # a space: the values stay whole YAML strings
    access = {
        role: lab_ssh.SshAccess(address, 22, "deploy", ssh_dir / "id_ed25519",
                                ssh_dir / "known_hosts")
        for role, address in (("turn", "172.30.0.2"), ("nextcloud", "172.30.0.3"))
    }  # fmt: skip
    text = _inventory(ssh=access)
    data = yaml.safe_load(text)["all"]
    groups = data["children"]
    turn = groups["turn_servers"]["hosts"]["talkdeploy-lab-turn"]
    nextcloud = groups["nextcloud"]["hosts"]["talkdeploy-lab-nextcloud"]
    for host, address in ((turn, "172.30.0.2"), (nextcloud, "172.30.0.3")):
        assert "ansible_connection" not in host  # ssh by default; --connection may choose
        assert (host["ansible_host"], host["ansible_port"]) == (address, 22)
        assert host["ansible_user"] == "deploy"
        assert host["ansible_ssh_private_key_file"] == "/lab dir/.ssh/id_ed25519"
        assert host["ansible_ssh_common_args"] == (
            "-o UserKnownHostsFile=/lab dir/.ssh/known_hosts -o StrictHostKeyChecking=yes"
        )
    assert turn["talkdeploy_probe_address"] == "172.30.0.2"  # the lab's own keys are kept
    client = groups["lab_clients"]["hosts"]["talkdeploy-lab-client"]
    assert client == {"ansible_connection": "community.docker.docker"}
    assert "ansible_connection" not in data["vars"]
    assert "over SSH, as the non-root sudo user" in text
    assert "over SSH" not in _inventory()


def test_a_known_hosts_line_is_matched_by_name_and_port_as_sshd_reads_it():
    assert lab_ssh.names_host("10.0.0.2 ssh-ed25519 AAAA", "10.0.0.2")
    assert lab_ssh.names_host("turn,10.0.0.2 ssh-ed25519 AAAA", "10.0.0.2")
    assert not lab_ssh.names_host("10.0.0.20 ssh-ed25519 AAAA", "10.0.0.2")
    assert not lab_ssh.names_host("10.0.0.2 ssh-ed25519 AAAA", "10.0.0.2", 2222)
    assert lab_ssh.names_host("[10.0.0.2]:2222 ssh-ed25519 AAAA", "10.0.0.2", 2222)


def test_inventory_puts_each_container_in_its_group_over_docker_exec():
    data = yaml.safe_load(_inventory())["all"]
    assert data["vars"]["ansible_connection"] == "community.docker.docker"
    groups = data["children"]
    assert list(groups["turn_servers"]["hosts"]) == ["talkdeploy-lab-turn"]
    assert list(groups["nextcloud"]["hosts"]) == ["talkdeploy-lab-nextcloud"]
    assert list(groups["lab_clients"]["hosts"]) == ["talkdeploy-lab-client"]


def test_inventory_sets_tls_on_443_with_setcap_nftables_and_the_bare_emulator():
    groups = yaml.safe_load(_inventory())["all"]["children"]
    turn = groups["turn_servers"]["vars"]
    assert turn["coturn_listening_port"] == 443
    assert turn["coturn_cert"] == lab.TURN_CERT
    assert turn["coturn_pkey"] == lab.TURN_KEY
    assert turn["coturn_privileged_port_method"] == "setcap"
    assert turn["firewall_backend"] == "nftables"
    assert "coturn_static_auth_secret" not in turn  # generated on the TURN host
    nextcloud = groups["nextcloud"]["vars"]
    assert nextcloud["talk_nextcloud_install"] == "bare"
    assert nextcloud["talk_nextcloud_path"] == lab.NEXTCLOUD_DIR


def test_inventory_names_the_turn_container_by_its_lab_address_and_allows_only_it():
    groups = yaml.safe_load(_inventory(Path("/x/ca.crt")))["all"]["children"]
    turn_host = groups["turn_servers"]["hosts"]["talkdeploy-lab-turn"]
    assert turn_host["talkdeploy_probe_address"] == "172.30.0.2"
    assert turn_host["talkdeploy_probe_ca_file"] == "/x/ca.crt"
    turn = groups["turn_servers"]["vars"]
    # A name (certificates and Talk's turns: need one), resolved by the lab's Docker DNS.
    assert turn["coturn_public_name"] == "turn.talkdeploy-lab.test"
    assert lab.turn_public_name("talkdeploy-lab") == "turn.talkdeploy-lab.test"
    # Only the relay address: the nextcloud and client containers must stay denied peers.
    assert turn["coturn_allowed_peer_ips"] == ["172.30.0.2"]


def test_inventory_says_the_nextcloud_is_the_occ_emulator():
    assert "occ EMULATOR, a stand-in" in _inventory()


def test_lab_certificate_chains_to_the_kept_ca_and_names_the_turn_address():
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    bundle = issue("talkdeploy-lab-turn", addresses=["172.30.0.2"], dns_names=["lab-turn"])
    ca = x509.load_pem_x509_certificate(bundle.ca_certificate)
    cert = x509.load_pem_x509_certificate(bundle.certificate)
    cert.verify_directly_issued_by(ca)
    other_ca = x509.load_pem_x509_certificate(issue("x").ca_certificate)
    with pytest.raises((ValueError, Exception)):
        cert.verify_directly_issued_by(other_ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("172.30.0.2")]
    assert san.get_values_for_type(x509.DNSName) == ["lab-turn"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert b"PRIVATE KEY" in bundle.key
    # The CA's key is not part of what is kept.
    assert b"PRIVATE KEY" not in bundle.ca_certificate + bundle.certificate
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


def test_members_are_read_from_docker_inspect_in_role_order():
    def item(name: str, role: str, address: str) -> dict[str, object]:
        return {
            "Name": f"/{name}",
            "Config": {"Labels": {lab.LABEL: "l", lab.ROLE_LABEL: role, lab.DISTRO_LABEL: "d"}},
            "State": {"Status": "running"},
            "NetworkSettings": {"Networks": {"l": {"IPAddress": address}}},
        }

    members = lab.parse_members(
        [item("l-client", "client", "10.9.0.4"), item("l-turn", "turn", "10.9.0.2")], "l"
    )
    assert [(m.name, m.role, m.address) for m in members] == [
        ("l-turn", "turn", "10.9.0.2"),
        ("l-client", "client", "10.9.0.4"),
    ]


def test_an_installed_wheel_without_a_checkout_says_what_the_lab_needs(tmp_path, monkeypatch):
    monkeypatch.setattr(lab, "__file__", str(tmp_path / "site-packages" / "talkdeploy" / "lab.py"))
    with pytest.raises(lab.LabError, match="source checkout"):
        lab.find_checkout(tmp_path)


def test_unknown_distro_is_refused_before_docker_is_touched():
    with pytest.raises(lab.LabError, match="debian12, debian13"):
        lab.up(distro="centos7")


# --------------------------------------------------------------------------- with Docker


def docker_available() -> bool:
    run = subprocess.run(["docker", "info"], capture_output=True, check=False)
    return run.returncode == 0


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def test_lab(deployed_lab: Lab) -> tuple[str, Path]:
    """The session's deployed lab (tests/labkit.py): `up` is what these tests look at."""
    assert deployed_lab.directory is not None
    return deployed_lab.name, deployed_lab.directory


@pytest.mark.docker
def test_up_starts_three_labelled_containers_each_in_its_own_network_namespace(test_lab):
    name, _ = test_lab
    members = lab.status(name)
    assert [m.role for m in members] == ["turn", "nextcloud", "client"]
    assert all(m.state == "running" for m in members)
    addresses = [m.address for m in members]
    assert len(set(addresses)) == 3 and None not in addresses
    inodes = {_docker("exec", m.name, "readlink", "/proc/1/ns/net").strip() for m in members} | {
        str(Path("/proc/self/ns/net").readlink())
    }
    assert len(inodes) == 4  # three containers and this machine: four namespaces
    for member in members:
        mode = _docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", member.name).strip()
        assert mode == name


@pytest.mark.docker
def test_port_443_is_privileged_in_the_lab_as_on_a_real_host(test_lab):
    name, _ = test_lab
    turn = lab.container_name(name, "turn")
    assert _docker("exec", turn, "sysctl", "-n", "net.ipv4.ip_unprivileged_port_start").strip() == (
        "1024"
    )


@pytest.mark.docker
def test_ansible_reaches_every_lab_host_through_the_written_inventory(test_lab):
    name, directory = test_lab
    bin_dir = Path(sys.executable).parent
    listed = subprocess.run(
        [str(bin_dir / "ansible-inventory"), "-i", str(directory), "--list"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    groups = json.loads(listed.stdout)
    assert groups["turn_servers"]["hosts"] == [lab.container_name(name, "turn")]
    assert groups["nextcloud"]["hosts"] == [lab.container_name(name, "nextcloud")]
    ping = subprocess.run(
        [str(bin_dir / "ansible"), "-i", str(directory), "all", "-m", "ansible.builtin.ping"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert ping.stdout.count("SUCCESS") == 3


@pytest.mark.docker
def test_nextcloud_container_runs_the_occ_emulator_as_www_data(test_lab):
    name, _ = test_lab
    nextcloud = lab.container_name(name, "nextcloud")
    status = _docker("exec", "-u", "www-data", nextcloud, "php", f"{lab.NEXTCLOUD_DIR}/occ",
                     "status", "--output=json")  # fmt: skip
    assert json.loads(status)["installed"] is True
    owner = _docker("exec", nextcloud, "stat", "-c", "%U", f"{lab.NEXTCLOUD_DIR}/config/config.php")
    assert owner.strip() == "www-data"
    assert "not Nextcloud" in _docker("exec", nextcloud, "cat",
                                      f"{lab.NEXTCLOUD_DIR}/talkdeploy-emulator")  # fmt: skip


@pytest.mark.docker
def test_client_container_has_turnutils_uclient_and_no_turn_server_running(test_lab):
    name, _ = test_lab
    client = lab.container_name(name, "client")
    assert _docker("exec", client, "sh", "-c", "command -v turnutils_uclient").strip()
    active = subprocess.run(["docker", "exec", client, "systemctl", "is-active", "coturn"],
                            capture_output=True, text=True)  # fmt: skip
    assert active.stdout.strip() != "active"


@pytest.mark.docker
def test_turn_container_serves_a_certificate_the_kept_ca_verifies(test_lab):
    from cryptography import x509

    name, directory = test_lab
    turn = lab.container_name(name, "turn")
    ca = x509.load_pem_x509_certificate((directory / ".tls" / "ca.crt").read_bytes())
    pem = subprocess.run(["docker", "exec", turn, "cat", lab.TURN_CERT], capture_output=True,
                         check=True).stdout  # fmt: skip
    x509.load_pem_x509_certificate(pem).verify_directly_issued_by(ca)
    key_mode = _docker("exec", turn, "stat", "-c", "%a %U", lab.TURN_KEY).strip()
    assert key_mode == "600 root"
    client = lab.container_name(name, "client")
    on_client = subprocess.run(["docker", "exec", client, "cat", lab.CLIENT_CA],
                               capture_output=True, check=True).stdout  # fmt: skip
    assert on_client == (directory / ".tls" / "ca.crt").read_bytes()


@pytest.mark.docker
def test_up_again_keeps_the_running_lab(test_lab):
    name, directory = test_lab
    before = {m.name: _docker("inspect", "-f", "{{.Id}}", m.name) for m in lab.status(name)}
    again = lab.up("debian12", directory, lab=name)
    assert again.created == []
    assert {m.name: _docker("inspect", "-f", "{{.Id}}", m.name) for m in lab.status(name)} == before


@pytest.mark.docker
def test_up_refuses_another_distro_while_the_lab_runs(test_lab):
    name, directory = test_lab
    with pytest.raises(lab.LabError, match="lab down"):
        lab.up("debian13", directory, lab=name)


@pytest.mark.docker
def test_down_removes_exactly_the_labs_containers_and_network(tmp_path):
    if not docker_available():
        pytest.skip("no Docker engine")
    name = f"tdlabdown-{uuid.uuid4().hex[:6]}"
    other = f"{name}-other"
    # What `up` would create, plus two bystanders: one of another lab, one unlabelled.
    _docker("network", "create", "--label", f"{lab.LABEL}={name}", name)
    image = "talkdeploy-test/debian12"
    _docker("run", "-d", "--name", f"{name}-turn", "--network", name,
            "--label", f"{lab.LABEL}={name}", "--label", f"{lab.ROLE_LABEL}=turn",
            image, "sleep", "600")  # fmt: skip
    _docker("run", "-d", "--name", other, "--label", f"{lab.LABEL}={other}", image, "sleep", "600")
    _docker("run", "-d", "--name", f"{name}-bystander", image, "sleep", "600")
    try:
        removed = lab.down(name)
        assert sorted(removed) == sorted([f"{name}-turn", name])
        remaining = _docker("ps", "-a", "--format", "{{.Names}}").split()
        assert f"{name}-turn" not in remaining
        assert other in remaining
        assert f"{name}-bystander" in remaining
        assert name not in _docker("network", "ls", "--format", "{{.Name}}").split()
        assert lab.down(name) == []  # nothing left: a second down removes nothing
    finally:
        for leftover in (f"{name}-turn", other, f"{name}-bystander"):
            subprocess.run(["docker", "rm", "-f", leftover], capture_output=True)
        subprocess.run(["docker", "network", "rm", name], capture_output=True)


@pytest.mark.docker
def test_status_command_lists_the_lab_as_json(test_lab):
    name, _ = test_lab
    result = CliRunner().invoke(main, ["--output", "json", "lab", "status", "--all"])
    assert result.exit_code == 0, result.output
    names = {member["name"] for member in json.loads(result.output)["members"]}
    assert {lab.container_name(name, role) for role in lab.ROLES} <= names
