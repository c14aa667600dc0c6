"""Talk federation's checks in the shared table (plugins/module_utils/talk.py): the role's first
task and `talkdeploy validate` run them, so both warn and refuse alike."""

from __future__ import annotations

import pytest

import talkdeploy.shared

talkdeploy.shared.enable()

from ansible_collections.talkdeploy.talk.plugins.module_utils import talk  # noqa: E402
from ansible_collections.talkdeploy.talk.plugins.module_utils.values import Invalid  # noqa: E402


def findings(**variables: object) -> list[tuple[str, str, str]]:
    return [(f.key, f.severity, f.message) for f in talk.check(variables).findings]


def test_federation_on_warns_about_its_limits() -> None:
    [(key, severity, message)] = findings(talk_federation_enabled=True)
    assert (key, severity) == ("talk_federation_enabled", "warning")
    for limit in ("cannot be moderators", "no file attachments", "Talk 20"):
        assert limit in message


def test_the_limits_warning_is_silenced_by_its_acknowledgement() -> None:
    assert findings(talk_federation_enabled=True, talk_federation_limits_acknowledged=True) == []
    assert findings(talk_federation_enabled=None) == []


def test_federation_settings_while_federation_is_off_warn() -> None:
    [(key, severity, message)] = findings(
        talk_federation_enabled=False, talk_federation_only_trusted_servers=True
    )
    assert (key, severity) == ("talk_federation_enabled", "warning")
    assert "only once federation is switched on" in message


@pytest.mark.parametrize(
    "key",
    [
        "talk_federation_incoming_enabled",
        "talk_federation_outgoing_enabled",
        "talk_federation_only_trusted_servers",
        "talk_federation_limits_acknowledged",
    ],
)
def test_federation_flags_must_be_booleans(key: str) -> None:
    [(found, severity, message)] = findings(**{key: "false"})
    assert (found, severity) == (key, "error")
    assert "not a boolean" in message


def test_allowed_groups_are_group_ids_without_control_characters_or_repeats() -> None:
    assert findings(talk_federation_allowed_groups=["admin", "Talk users"]) == []
    assert findings(talk_federation_allowed_groups=[]) == []
    [(_, _, message)] = findings(talk_federation_allowed_groups=["a\nb"])
    assert "control character" in message
    [(_, _, message)] = findings(talk_federation_allowed_groups=["a", "a"])
    assert "lists a group twice" in message
    [(_, _, message)] = findings(talk_federation_allowed_groups=[""])
    assert "is empty" in message


@pytest.mark.parametrize("user", ["admin", "alice.smith@example.org", "o'neil", "a b", "x" * 64])
def test_nextcloud_user_ids_are_accepted(user: str) -> None:
    assert talk.user_id(user) == user


@pytest.mark.parametrize(
    "user", ["", " admin", "admin ", "a\tb", "a\u200bb", "a;b", "$(id)", "x" * 65, ".", "é"]
)
def test_anything_else_is_refused_as_a_user_id(user: str) -> None:
    with pytest.raises(Invalid):
        talk.user_id(user)
