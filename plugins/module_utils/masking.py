"""How a secret is hidden: one mask string, one fingerprint, one set of secret shapes.

The CLI (talkdeploy.run_result.Masker, talkdeploy render/plan/status) and talkdeploy's Ansible
callback (talkdeploy/ansible_plugins/callback/talkdeploy_events.py) import this module, so a
secret looks the same wherever it is hidden.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MASK = "********"

# static-auth-secret=..., "secret": "...", 'secret': '...', --secret=... / --secret ..., secret: ...
SECRET_SHAPES = (
    re.compile(r"(static-auth-secret\s*=\s*)(\S+)"),
    re.compile(r"""("secret"\s*:\s*")([^"]*)(")"""),
    re.compile(r"""('secret'\s*:\s*')([^']*)(')"""),
    re.compile(r"(--secret[= ])(\S+)"),
    re.compile(r"(\bsecret\s*:\s*)(\S+)"),
)


def fingerprint(secret: str) -> str:
    """First 8 hex digits of the secret's SHA-256: enough to compare, useless to an attacker."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def _longest_first(secrets: Iterable[str]) -> list[str]:
    # A secret that contains another must be replaced first, or a piece of it stays visible.
    return sorted({s for s in secrets if s}, key=len, reverse=True)


def mask_known(text: str, secrets: Iterable[str]) -> str:
    """Every known secret in `text` becomes MASK."""
    for secret in _longest_first(secrets):
        text = text.replace(secret, MASK)
    return text


def mask_shapes(text: str) -> str:
    """Values in the places a secret is written (turnserver.conf, occ, Talk's JSON) become MASK."""
    for shape in SECRET_SHAPES:
        text = shape.sub(
            lambda m: m.group(1) + MASK + (m.group(3) if m.lastindex == 3 else ""), text
        )
    return text


def mark_known(text: str, secrets: Iterable[str]) -> str:
    """Every known secret becomes <secret sha256:xxxxxxxx>: a changed secret still shows as one."""
    for secret in _longest_first(secrets):
        text = text.replace(secret, f"<secret sha256:{fingerprint(secret)}>")
    return text
