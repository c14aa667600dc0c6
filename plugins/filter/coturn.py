"""Filters of the coturn role: what it computes from its checked settings.

The functions live in plugins/module_utils/coturn.py, where the talkdeploy CLI imports them too
(render, plan), so the role and the CLI write the same turnserver.conf.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.talkdeploy.talk.plugins.module_utils import coturn
from ansible_collections.talkdeploy.talk.plugins.module_utils.plain import plain


def coturn_config(settings: Any, version: Any, secrets: Any) -> dict[str, Any]:
    return coturn.config(plain(settings), str(version), plain(secrets))


def coturn_endpoint(settings: Any) -> dict[str, Any]:
    return coturn.endpoint(plain(settings))


def coturn_installed_version(package_version: Any) -> str:
    return coturn.installed_version(str(package_version or ""))


def coturn_version_gates(version: Any) -> dict[str, bool]:
    return coturn.version_gates(str(version or ""))


def coturn_tls_copies(tls_dir: Any) -> dict[str, str]:
    return coturn.tls_copies(str(tls_dir))


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "coturn_config": coturn_config,
            "coturn_endpoint": coturn_endpoint,
            "coturn_installed_version": coturn_installed_version,
            "coturn_version_gates": coturn_version_gates,
            "coturn_tls_copies": coturn_tls_copies,
        }
