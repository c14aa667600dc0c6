"""Install the occ emulator (the lab's stand-in for Nextcloud's occ) into a container.

The emulator lives in the checkout at molecule/shared/occ_emulator/; it is a
stand-in, named as such wherever it appears: it answers the occ commands
talkdeploy's nextcloud_talk role runs, and keeps Talk's settings the way Nextcloud
would, but it is not Nextcloud.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

EMULATOR_DIR = Path("molecule") / "shared" / "occ_emulator"

Docker = Callable[..., str]


class EmulatorMissingError(RuntimeError):
    pass


def emulator_source(checkout: Path) -> Path:
    source = checkout / EMULATOR_DIR
    if not (source / "occ").is_file():
        raise EmulatorMissingError(
            f"the occ emulator is missing from {source}; the lab needs a complete checkout"
        )
    return source


def install_emulator(
    container: str, checkout: Path, nextcloud_dir: str, docker: Docker, owner: str = "www-data"
) -> None:
    """Lay the emulator out like a Debian Nextcloud install, as molecule/nextcloud_talk does.

    <dir>/occ, <dir>/config/config.php ("installed") and <dir>/data, owned by `owner`
    (occ runs as the owner of config.php; root for the snap, whose occ runs as root),
    plus the `talkdeploy-emulator` marker file the emulator's own header asks every
    install of it to carry.
    """
    source = emulator_source(checkout)
    occ = source / "occ"
    marker = "This is the talkdeploy occ emulator (molecule/shared/occ_emulator), not Nextcloud."
    script = f"""
install -d -o {owner} -g {owner} -m 0750 \\
  {nextcloud_dir} {nextcloud_dir}/config {nextcloud_dir}/data
cat > {nextcloud_dir}/occ
chown {owner}:{owner} {nextcloud_dir}/occ
chmod 0644 {nextcloud_dir}/occ
echo '{marker}' > {nextcloud_dir}/talkdeploy-emulator
chmod 0644 {nextcloud_dir}/talkdeploy-emulator
if [ ! -e {nextcloud_dir}/config/config.php ]; then
  printf '%s\\n' '<?php' '$CONFIG = array (' "  'installed' => true," \\
    "  'version' => '32.0.1.2'," "  'maintenance' => false," ');' \\
    > {nextcloud_dir}/config/config.php
  chown {owner}:{owner} {nextcloud_dir}/config/config.php
  chmod 0640 {nextcloud_dir}/config/config.php
fi
"""
    docker("exec", "-i", container, "sh", "-ec", script, input_bytes=occ.read_bytes())
