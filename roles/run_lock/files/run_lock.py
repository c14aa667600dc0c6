"""One talkdeploy run at a time on a host: take, check or release its lock file.

Run with python3 on the host by roles/run_lock/tasks/*.yml:
    run_lock.py take|check|release PATH OWNER_JSON STALE_SECONDS BREAK(true|false)
OWNER_JSON is {"run": id, "by": "user@controller", "boot": the controller's boot id, "pid": its
ansible-playbook process}; the lock file holds it plus "since" (epoch seconds). The file is
created with O_EXCL, so of two runs starting together exactly one takes it; a lock older than
STALE_SECONDS (its run was killed, its machine lost) or BREAK is taken over. /run is a tmpfs
(systemd's file-hierarchy(7)): a reboot, which no run survives, clears it.
Prints one JSON object: {"result": taken|taken-over|held|free|released|not-ours, "lock": {...}}.
"""

import json
import os
import sys
import time
from pathlib import Path


def read(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except ValueError:  # a half-written or foreign file: nothing to honour
        return {}


def write_new(path, lock):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(lock, handle)


def replace(path, lock):
    temporary = Path(f"{path}.{os.getpid()}")
    temporary.write_text(json.dumps(lock))
    temporary.chmod(0o644)
    temporary.replace(path)


def main():
    action, path, owner, stale_after, force = sys.argv[1:6]
    mine = {**json.loads(owner), "since": int(time.time())}
    held = read(path)
    if action == "release":
        if held is not None and held.get("run") == mine["run"]:
            Path(path).unlink()
            return {"result": "released", "lock": held}
        return {"result": "not-ours", "lock": held}
    if held is not None and held.get("run") == mine["run"]:
        return {"result": "taken", "lock": held}  # this run's earlier play on the same host
    stale = not held or time.time() - held.get("since", 0) > float(stale_after)
    if held is not None and not (stale or force == "true"):
        return {"result": "held", "lock": held}
    if action == "check":
        return {"result": "free", "lock": held}
    if held is None:
        try:
            write_new(path, mine)
            return {"result": "taken", "lock": mine}
        except FileExistsError:  # another run took it since it was read
            return {"result": "held", "lock": read(path) or {}}
    replace(path, mine)
    return {"result": "taken-over", "lock": held}


print(json.dumps(main()))
