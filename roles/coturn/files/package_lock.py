"""Wait until no process holds the package manager's locks, or name the one that does.

Run with python3 on the host by roles/coturn/tasks/install-Debian.yml: argv[1] is a JSON list
of lock files, argv[2] the seconds to wait. dpkg and apt lock them with fcntl(2) write locks
(guillemj/dpkg lib/dpkg/lock.c, lock_file: F_SETLK with F_WRLCK), which flock(1) does not see,
so each lock is probed with lockf: taken and released at once, never held while apt runs.
Prints "free" or "busy: FILE held by PID (COMMAND)"; exits 0 either way.
"""

import fcntl
import json
import os
import sys
import time
from pathlib import Path


def busy(path):
    """Whether another process holds a write lock on `path` (False when it does not exist)."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # closing releases the probe's own lock
    return False


def holder(path):
    """'PID (COMMAND)' of the process /proc/locks names for the file's inode, if any."""
    inode = Path(path).stat().st_ino
    with Path("/proc/locks").open() as locks:
        for line in locks:
            fields = line.replace("->", "").split()
            # "1: POSIX  ADVISORY  WRITE 1234 00:2d:5678 0 EOF" (proc(5), /proc/locks)
            if len(fields) >= 6 and fields[5].rsplit(":", 1)[-1] == str(inode):
                pid = fields[4]
                try:
                    return f"{pid} ({Path(f'/proc/{pid}/comm').read_text().strip()})"
                except OSError:
                    return pid
    return "another process"


def main():
    paths = json.loads(sys.argv[1])
    deadline = time.monotonic() + float(sys.argv[2])
    while True:
        held = [path for path in paths if busy(path)]
        if not held:
            print("free")
            return
        if time.monotonic() >= deadline:
            print(f"busy: {held[0]} held by {holder(held[0])}")
            return
        time.sleep(1)


main()
