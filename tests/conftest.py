"""Shared fixtures: systemd test containers started exactly like molecule's platforms.

The container options are read from molecule/shared/platform.yml (the one place
they are written down), so a pytest-started host behaves like a molecule host:
real systemd, port 443 privileged, its own network namespace.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from labkit import Lab, talkdeploy

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "molecule" / "shared" / "platform.yml"


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@dataclass
class Container:
    name: str

    def exec(self, *argv: str, check: bool = True, user: str | None = None) -> str:
        cmd = ["docker", "exec", *(["-u", user] if user else []), self.name, *argv]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if check and run.returncode != 0:
            raise AssertionError(f"{argv} failed in {self.name}: {run.stdout}{run.stderr}")
        return run.stdout

    def sh(self, script: str, check: bool = True) -> str:
        return self.exec("sh", "-ec", script, check=check)

    def put(self, path: str, content: str, mode: str = "0644") -> None:
        subprocess.run(
            ["docker", "exec", "-i", self.name, "sh", "-c", f"cat > {path} && chmod {mode} {path}"],
            input=content,
            text=True,
            check=True,
        )

    @property
    def ip(self) -> str:
        return subprocess.run(
            [
                "docker",
                "inspect",
                "-f",
                "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                self.name,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


def start_systemd_container(image: str, prefix: str, network: str | None = None) -> Container:
    """Start `image` with molecule/shared/platform.yml's options and wait for systemd."""
    platform = yaml.safe_load(PLATFORM.read_text())["talkdeploy_platform_defaults"]
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    argv = ["docker", "run", "-d", "--name", name, "--hostname", name]
    argv += [f"--cap-add={cap}" for cap in platform["capabilities"]]
    argv += [f"--security-opt={opt}" for opt in platform["security_opts"]]
    argv += [f"--cgroupns={platform['cgroupns_mode']}"]
    argv += [arg for volume in platform["volumes"] for arg in ("-v", volume)]
    argv += [f"--tmpfs={path}" for path in platform["tmpfs"]]
    argv += [f"--sysctl={key}={value}" for key, value in platform["sysctls"].items()]
    argv += [f"--stop-signal={platform['stop_signal']}"]
    if network:
        argv += ["--network", network]
    argv += [image, platform["command"]]
    subprocess.run(argv, check=True, capture_output=True)
    container = Container(name)
    state = ""
    for _ in range(60):  # systemctl answers only once systemd has set up its bus
        state = container.exec("systemctl", "is-system-running", "--wait", check=False).strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.5)
    else:
        remove_container(container)
        raise AssertionError(f"systemd in {name} did not boot: {state}")
    return container


def remove_container(container: Container) -> None:
    subprocess.run(["docker", "rm", "-f", container.name], capture_output=True, check=False)


@pytest.fixture(scope="session")
def debian12() -> Iterator[None]:
    if not docker_available():
        pytest.skip("no Docker engine")
    image = "talkdeploy-test/debian12"
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        pytest.skip(f"{image} missing: run `make images`")
    yield None


@pytest.fixture(scope="session")
def deployed_lab(debian12: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One lab for the whole session, deployed once by `talkdeploy apply` (tests/labkit.py)."""
    from talkdeploy import lab as labs

    name = f"h5-e2e-{uuid.uuid4().hex[:6]}"
    directory = tmp_path_factory.mktemp("lab")
    try:
        up = labs.up("debian12", directory, lab=name)
        lab = Lab(
            name,
            up.inventory,
            labs.container_name(name, "turn"),
            labs.container_name(name, "nextcloud"),
            labs.container_name(name, "client"),
            directory,
        )
        lab.first_apply = talkdeploy("apply", "-i", str(lab.inventory), "--yes")
        if lab.first_apply.code != 0:
            pytest.fail(f"the lab's first apply failed: {lab.first_apply.stderr[-3000:]}")
        yield lab
    finally:
        labs.down(name)
