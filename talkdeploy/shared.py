"""The Python the roles and the CLI share, imported from the collection's plugins/module_utils.

Validation rules, value normalisation and what the roles compute (endpoint, version gates,
turnserver.conf values) are written once, in the collection, where Ansible's action and filter
plugins import them as `ansible_collections.talkdeploy.talk.plugins.module_utils.*`. The CLI
imports the very same files under the same names: `enable()` puts the collection on sys.path
(and on ANSIBLE_COLLECTIONS_PATH, for Ansible's own collection finder in this process).
Importing this module enables it; the light modules every command needs are re-exported here.
"""

from __future__ import annotations

import os
import sys

_enabled = False


def enable() -> None:
    global _enabled
    if _enabled:
        return
    from talkdeploy.resources import locate

    path = str(locate().collections_path)
    if path not in sys.path:
        sys.path.insert(0, path)
    current = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    if path not in current.split(os.pathsep):
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(p for p in (path, current) if p)
    _enabled = True


enable()

from ansible_collections.talkdeploy.talk.plugins.module_utils import masking  # noqa: E402
from ansible_collections.talkdeploy.talk.plugins.module_utils.talk import (  # noqa: E402
    INSTALL_KINDS,
)

__all__ = ["INSTALL_KINDS", "enable", "masking"]
