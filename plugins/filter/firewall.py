"""Filters of the firewall role (plugins/module_utils/firewall.py holds the code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.talkdeploy.talk.plugins.module_utils import firewall
from ansible_collections.talkdeploy.talk.plugins.module_utils.plain import plain


def firewall_turn_ports(endpoint: Any) -> list[str]:
    return firewall.turn_ports(plain(endpoint))


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"firewall_turn_ports": firewall_turn_ports}
