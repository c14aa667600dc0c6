"""Read, in one round trip, everything the coturn role compares before it changes anything.

Run by tasks/state.yml as `python3 -c <this file> <json arguments>`; prints one JSON object.
Read-only: it never changes the host. Its output contains the current static-auth-secret, so
the task that runs it is no_log.
"""

import grp
import hashlib
import json
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path


def run(argv):
    if shutil.which(argv[0]) is None:
        return None
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def package_version(name):
    if shutil.which("dpkg-query"):
        status = run(["dpkg-query", "-W", "-f=${Status}|${Version}", name])
        if status and status.split("|")[0].endswith(" installed"):
            return status.split("|")[1]
        return None
    return run(["rpm", "-q", "--qf", "%{VERSION}-%{RELEASE}", name])


def first_secret(config_path):
    try:
        with Path(config_path).open(encoding="utf-8", errors="replace") as config:
            for line in config:
                match = re.match(r"^\s*static-auth-secret\s*=\s*(\S+)\s*$", line)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return ""


def file_facts(path):
    """Content checksum, mode and owner of a file the role manages (None when absent)."""
    target = Path(path)
    try:
        stat = target.stat()
    except OSError:
        return None
    try:
        owner = pwd.getpwuid(stat.st_uid).pw_name
    except KeyError:
        owner = str(stat.st_uid)
    try:
        group = grp.getgrgid(stat.st_gid).gr_name
    except KeyError:
        group = str(stat.st_gid)
    digest = None
    if target.is_file():
        try:
            digest = hashlib.sha1(target.read_bytes()).hexdigest()  # noqa: S324 (a checksum)
        except OSError:
            digest = None
    return {"sha1": digest, "mode": f"{stat.st_mode & 0o7777:04o}", "owner": owner, "group": group}


def settings_newer_than_process(service, watched):
    """True when coturn runs but a file it reads at start changed after it started.

    Catches a run that wrote turnserver.conf (or a drop-in, or the binary's capability) and
    then stopped before the restart: the next run restarts instead of trusting the file.
    """
    show = ["systemctl", "show", "--value", "--timestamp=unix"]
    started = run([*show, "-p", "ExecMainStartTimestamp", service])
    if not started or not started.startswith("@"):
        return False
    newest = 0.0
    for path in watched:
        try:
            stat = Path(path).stat()
        except OSError:
            continue
        newest = max(newest, stat.st_mtime, stat.st_ctime)
    # systemd gives whole seconds: allow one so a restart right after a write is not "stale".
    return newest > float(started[1:]) + 1


def main():
    args = json.loads(sys.argv[1])
    systemd = Path("/run/systemd/system").is_dir()
    service = args["service"]
    active = (run(["systemctl", "is-active", service]) or "inactive") if systemd else ""
    state = {
        "packages": {name: package_version(name) for name in args["packages"]},
        "capability": run(["getcap", args["binary"]]) or "",
        "secret": first_secret(args["config"]),
        "files": {path: file_facts(path) for path in args["files"] if path},
        "paths": {path: Path(path).is_symlink() or Path(path).exists() for path in args["paths"]},
        "systemd": systemd,
        "active": active,
        "enabled": (run(["systemctl", "is-enabled", service]) or "disabled") if systemd else "",
        # other units the role manages (the TLS renewal watch): active and enabled, or not
        "units": {
            unit: {
                "active": run(["systemctl", "is-active", unit]) == "active",
                "enabled": run(["systemctl", "is-enabled", unit]) == "enabled",
            }
            for unit in args.get("units", [])
            if systemd
        },
    }
    state["stale"] = active == "active" and settings_newer_than_process(service, args["watched"])
    print(json.dumps(state))


main()
