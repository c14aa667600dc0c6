"""Filters that hide secrets the way the CLI does (plugins/module_utils/masking.py), for the
messages a role builds from a no_log task's result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.talkdeploy.talk.plugins.module_utils import masking
from ansible_collections.talkdeploy.talk.plugins.module_utils.plain import plain


def mask_known(text: Any, secrets: Any) -> str:
    return masking.mask_known(str(text), [str(s) for s in plain(secrets) or [] if s])


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"mask_known": mask_known}
