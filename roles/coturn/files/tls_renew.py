#!/usr/bin/python3
"""Copy a renewed TLS certificate and key to the copies coturn reads, then reload coturn.

Installed by roles/coturn (tasks/tls_watch.yml) and run by talkdeploy-coturn-tls.service when
talkdeploy-coturn-tls.path sees the source files (or their directory) change:

    tls_renew.py CERT PKEY CERT_COPY PKEY_COPY GROUP SERVICE

Writes the copies exactly as tasks/tls.yml does (root:GROUP 0640, same bytes), so the role's
next run finds nothing to change. A pair whose key does not match the certificate is never
copied: certbot and acme.sh write the files one after the other, so the pair is read again a
few times before giving up until the next change. Key material is never printed.
"""

import grp
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ATTEMPTS = 5  # one second apart: long enough for a renewal tool to write the second file
MODE = 0o640


def log(message):
    print(message, flush=True)  # stdout of a service unit goes to the journal


def public_key(data, kind):
    """The PEM public key of a certificate (x509) or private key (pkey), None if unreadable."""
    argv = ["openssl", "x509", "-noout", "-pubkey"]
    if kind == "pkey":
        argv = ["openssl", "pkey", "-pubout"]
    done = subprocess.run(argv, input=data, capture_output=True, check=False)  # stderr dropped
    return done.stdout if done.returncode == 0 and done.stdout else None


def read_pair(cert, pkey):
    """(cert bytes, key bytes, None) when they belong together, else (None, None, why)."""
    try:
        cert_data = Path(cert).read_bytes()
        key_data = Path(pkey).read_bytes()
    except OSError as error:
        return None, None, f"cannot read {error.filename}: {error.strerror}"
    cert_key = public_key(cert_data, "x509")
    if cert_key is None:
        return None, None, f"{cert} is not a certificate"
    key_key = public_key(key_data, "pkey")
    if key_key is None:
        return None, None, f"{pkey} is not a private key"
    if cert_key != key_key:
        return None, None, f"the key {pkey} does not match the certificate {cert}"
    return cert_data, key_data, None


def current(path, data, gid):
    try:
        stat = Path(path).stat()
        same = hashlib.sha256(Path(path).read_bytes()).digest() == hashlib.sha256(data).digest()
    except OSError:
        return False
    return same and stat.st_uid == 0 and stat.st_gid == gid and stat.st_mode & 0o7777 == MODE


def write_atomically(path, data, gid):
    """Temp file in the same directory, owner and mode set before the data, then rename."""
    directory = Path(path).parent
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{Path(path).name}.")
    try:
        os.fchown(handle, 0, gid)
        os.fchmod(handle, MODE)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).rename(path)
    except BaseException:
        Path(temporary).unlink()
        raise
    directory_handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_handle)
    finally:
        os.close(directory_handle)


def main(cert, pkey, cert_copy, pkey_copy, group, service):
    gid = grp.getgrnam(group).gr_gid
    for attempt in range(ATTEMPTS):
        cert_data, key_data, why = read_pair(cert, pkey)
        if why is None:
            break
        if attempt + 1 < ATTEMPTS:
            time.sleep(1)
    else:
        log(f"not copied: {why}; coturn keeps its current certificate until the next change")
        return 0
    written = []
    # coturn reads the copies only when signalled, after both renames.
    for data, path in ((key_data, pkey_copy), (cert_data, cert_copy)):
        if not current(path, data, gid):
            write_atomically(path, data, gid)
            written.append(path)
    if not written:
        log(f"{cert_copy} and {pkey_copy} are already current; coturn not signalled")
        return 0
    # coturn re-reads its certificate and key on SIGUSR2 without dropping sessions (coturn
    # src/apps/relay/mainrelay.c reload_ssl_certs()); never a restart.
    argv = ["systemctl", "kill", "--signal=SIGUSR2", "--kill-whom=main", service]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        log(f"copied {', '.join(written)}, but signalling {service} failed: {done.stderr.strip()}")
        return 1
    log(f"copied {', '.join(written)}; {service} reloads its certificate (SIGUSR2)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
