"""Talk federation as a Nextcloud host has it, for `talkdeploy status`.

Read from the report playbooks/verify.yml already brings back (`occ config:list spreed` and
`occ app:list`), with the same rules the nextcloud_talk role reconciles by (the collection's
plugins/filter/talk.py): no extra occ call. None of these keys holds a secret.
"""

from __future__ import annotations

from typing import Any


def federation_state(spreed: dict[str, Any], enabled_apps: dict[str, Any] | None) -> dict[str, Any]:
    """enabled, incoming/outgoing, only_trusted_servers, allowed_groups, and apps_disabled:
    the apps federation needs that are not enabled (only when federation is on and the app
    list was read)."""
    from talkdeploy.shared import enable

    enable()  # the collection, on the path
    from ansible_collections.talkdeploy.talk.plugins.filter import talk

    state = talk.talk_federation_state(spreed)
    needed = talk.talk_federation_apps(state["enabled"], state["only_trusted_servers"])
    known = enabled_apps is not None
    state["apps_disabled"] = [app for app in needed if known and app not in (enabled_apps or {})]
    return state


def federation_summary(state: dict[str, Any] | None) -> str:
    """One cell of status's table: "off", or "on (in, out, trusted only, groups a, b)"."""
    if not state:
        return "-"
    if not state.get("enabled"):
        return "off"
    parts = [
        "incoming" if state.get("incoming_enabled") else "no incoming",
        "outgoing" if state.get("outgoing_enabled") else "no outgoing",
    ]
    if state.get("only_trusted_servers"):
        parts.append("trusted servers only")
    if state.get("allowed_groups"):
        parts.append("groups " + ", ".join(str(g) for g in state["allowed_groups"]))
    if state.get("apps_disabled"):
        parts.append("APPS DISABLED: " + ", ".join(state["apps_disabled"]))
    return "on (" + "; ".join(parts) + ")"
