"""The nextcloud_talk role's reconcile rules (the collection's plugins/filter/talk.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

import talkdeploy.shared  # the collection's module_utils, which the filters import

talkdeploy.shared.enable()

PLUGIN = Path(__file__).resolve().parent.parent / "plugins" / "filter" / "talk.py"


def load_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("talk_settings", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


talk = load_plugin()

ENDPOINT = {"public_name": "turn.example.com", "listening_port": 443, "udp": True, "tcp": True}
OURS = {
    "schemes": "turn",
    "server": "turn.example.com:443",
    "secret": "new",
    "protocols": "udp,tcp",
}
PARTNER = {"schemes": "turn", "server": "turn.partner.net:3478", "secret": "p", "protocols": "udp"}


def test_turn_entry_follows_the_endpoint_tls_and_transports() -> None:
    tls_tcp_only = {**ENDPOINT, "tls": True, "udp": False}
    (entry,) = talk.talk_turn_entries([tls_tcp_only], ["s"], "auto", "auto")
    assert entry == {
        "schemes": "turn,turns",
        "server": "turn.example.com:443",
        "secret": "s",
        "protocols": "tcp",
    }
    assert list(entry) == ["schemes", "server", "secret", "protocols"]  # Talk's key order


def test_explicit_schemes_and_protocols_win_over_auto() -> None:
    (entry,) = talk.talk_turn_entries([ENDPOINT], ["s"], "turns", "udp")
    assert (entry["schemes"], entry["protocols"]) == ("turns", "udp")


def test_stale_port_and_old_secret_of_an_owned_host_are_replaced() -> None:
    current = [{**OURS, "server": "turn.example.com:3478", "secret": "old"}, PARTNER]
    result = talk.talk_reconcile_turn(current, [OURS], ["turn.example.com"], [], False)
    assert result == [OURS, PARTNER]


def test_duplicate_owned_entries_collapse_to_one() -> None:
    result = talk.talk_reconcile_turn([OURS, OURS], [OURS, OURS], ["turn.example.com"], [], False)
    assert result == [OURS]


def test_exclusive_drops_foreign_turn_entries() -> None:
    result = talk.talk_reconcile_turn([PARTNER], [OURS], ["turn.example.com"], [], True)
    assert result == [OURS]


def test_retired_servers_are_removed() -> None:
    old = {**PARTNER, "server": "old-turn.example.com:443"}
    result = talk.talk_reconcile_turn(
        [old, PARTNER], [OURS], ["turn.example.com"], ["old-turn.example.com"], False
    )
    assert result == [OURS, PARTNER]


def test_unchanged_list_compares_equal_whatever_the_key_order() -> None:
    stored = json.loads(
        '[{"protocols":"udp,tcp","secret":"new","server":"turn.example.com:443","schemes":"turn"}]'
    )
    assert talk.talk_reconcile_turn(stored, [OURS], ["turn.example.com"], [], False) == stored


# A TURN server this run did not deploy (unreachable, failed): Talk keeps its entries as they
# are, old secret and port included, and gets none for one it has none for.
KEPT = {**OURS, "server": "turn-b.example.com:3478", "secret": "its-own"}


@pytest.mark.parametrize("exclusive", [False, True])
def test_entries_of_a_kept_turn_server_stay_as_they_are(exclusive: bool) -> None:
    owned = ["turn.example.com", "turn-b.example.com"]  # even if it were counted as owned
    result = talk.talk_reconcile_turn(
        [KEPT, PARTNER], [OURS], owned, [], exclusive, ["turn-b.example.com"]
    )
    assert result == ([KEPT, OURS] if exclusive else [KEPT, OURS, PARTNER])  # in its place


def test_a_list_that_differs_only_by_kept_entries_is_unchanged() -> None:
    first, second = {**KEPT, "server": "turn-a.example.com:443"}, KEPT
    for kept in (
        ["turn-a.example.com"],
        ["turn-b.example.com"],
        ["turn-a.example.com", "turn-b.example.com"],
    ):
        current = [first, second, PARTNER]
        wanted = [e for e in (first, second) if _host_of(e) not in kept]
        owned = ["turn-a.example.com", "turn-b.example.com"]
        assert talk.talk_reconcile_turn(current, wanted, owned, [], False, kept) == current
        stun = ["turn-a.example.com:443", "turn-b.example.com:3478", "stun.nextcloud.com:443"]
        wanted_stun = [server for server in stun[:2] if server.split(":")[0] not in kept]
        assert talk.talk_reconcile_stun(stun, wanted_stun, owned, [], True, False, kept) == stun


def _host_of(entry: dict[str, str]) -> str:
    return entry["server"].rsplit(":", 1)[0]


def test_a_kept_turn_server_talk_has_no_entry_for_gets_none() -> None:
    result = talk.talk_reconcile_turn([PARTNER], [OURS], ["turn.example.com"], [], False,
                                      ["turn-b.example.com"])  # fmt: skip
    assert result == [OURS, PARTNER]
    assert talk.talk_kept_servers([PARTNER, OURS], ["turn-b.example.com"]) == []


def test_kept_stun_entries_survive_an_exclusive_list() -> None:
    current = ["turn-b.example.com:3478", "stun.partner.net:3478"]
    result = talk.talk_reconcile_stun(
        current, ["turn.example.com:443"], ["turn.example.com"], [], False, True,
        ["turn-b.example.com"],
    )  # fmt: skip
    assert result == ["turn-b.example.com:3478", "turn.example.com:443"]


def test_kept_servers_are_named_without_their_secrets() -> None:
    assert talk.talk_kept_servers([KEPT, PARTNER], ["turn-b.example.com"]) == [
        "turn-b.example.com:3478"
    ]


@pytest.mark.parametrize(
    ("keep_default", "expected"),
    [
        (True, ["turn.example.com:443", "stun.nextcloud.com:443", "stun.partner.net:3478"]),
        (False, ["turn.example.com:443", "stun.partner.net:3478"]),
    ],
)
def test_stun_list_keeps_or_drops_the_default_and_keeps_foreign_entries(
    keep_default: bool, expected: list[str]
) -> None:
    current = ["stun.nextcloud.com:443", "stun.partner.net:3478", "turn.example.com:3478"]
    result = talk.talk_reconcile_stun(
        current, ["turn.example.com:443"], ["turn.example.com"], [], keep_default, False
    )
    assert result == expected


def test_php_json_matches_what_talk_writes() -> None:
    value = {"servers": [{"server": "https://s.example.com", "verify": True}], "secret": "x"}
    assert talk.talk_php_json(value) == (
        '{"servers":[{"server":"https:\\/\\/s.example.com","verify":true}],"secret":"x"}'
    )


def test_app_config_of_an_app_without_values_is_empty() -> None:
    # PHP encodes an empty array as [] (core/Command/Config/ListConfigs.php output)
    assert talk.talk_app_config('{"apps":{"spreed":[]}}') == {}


def test_occ_json_skips_warning_lines_before_the_document() -> None:
    stdout = "The process control (PCNTL) extensions are required ...\n" + '{"installed":true}'
    assert talk.talk_occ_json(stdout) == {"installed": True}


def test_an_invalid_stored_value_counts_as_empty_like_talk() -> None:
    # spreed lib/Config.php: json_decode failure or a non-array -> no servers
    assert talk.talk_json_value("not json") == []
    assert talk.talk_json_value('{"a": 1}') == []
    assert talk.talk_json_value("[]", "dict") == {}


def test_import_document_holds_each_value_as_the_string_talk_stores() -> None:
    # nextcloud/server core/Command/Config/Import.php: {"apps": {"<app>": {key: string}}}
    turn = talk.talk_php_json([OURS])
    document = talk.talk_config_import({"turn_servers": turn, "federation_enabled": "yes"})
    assert json.loads(document) == {
        "apps": {"spreed": {"turn_servers": turn, "federation_enabled": "yes"}}
    }
    # what occ stores reads back equal to what was wanted: a no-op re-run writes nothing
    stored = json.loads(document)["apps"]["spreed"]["turn_servers"]
    assert talk.talk_json_value(stored) == [OURS]


def test_import_document_refuses_a_value_that_is_not_a_string_without_showing_it() -> None:
    # Import.php validateAppsArray() would refuse a list; the error names the key only
    with pytest.raises(TypeError, match="spreed turn_servers") as error:
        talk.talk_config_import({"turn_servers": [OURS]})
    assert OURS["secret"] not in str(error.value)


@pytest.mark.parametrize(
    "stdout",
    [
        "The file must contain a valid json array\n",
        "Found invalid entries in root: spreed\n",
        'Invalid app config value for "spreed":"turn_servers". '
        "Only integers, strings and null (delete) are allowed.\n",
    ],
)
def test_import_failure_shows_import_php_refusals(stdout: str) -> None:
    assert talk.talk_import_failure(stdout) == "occ said: " + stdout.strip()


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        'An unhandled exception has been thrown:\nwith params [\'[{"secret":"s3"}]\']',
        'Found invalid entries in root: apps\n[{"secret":"s3"}]',
        "Config value 'turn_servers' for app 'spreed' is now set to '[{\"secret\":\"s3\"}]'",
    ],
)
def test_import_failure_hides_any_other_output(stdout: str) -> None:
    assert "s3" not in talk.talk_import_failure(stdout)
    assert talk.talk_import_failure(stdout) == "its output is hidden, as it may contain the secrets"


# ---------------------------------------------------------------- federation


@pytest.mark.parametrize(
    ("stored", "default", "read"),
    [
        (None, True, True),
        (None, False, False),
        ("1", False, True),
        ("0", True, False),
        ("yes", False, True),
        ("no", True, False),
        ("TRUE", False, True),
        ("on", False, True),
        ("", True, False),
    ],
)
def test_flags_are_read_as_nextcloud_reads_a_bool(
    stored: str | None, default: bool, read: bool
) -> None:
    # nextcloud/server lib/private/AppConfig.php getValueBool()
    assert talk.talk_bool_value(stored, default) is read


NOTHING = {
    "enabled": None,
    "incoming": None,
    "outgoing": None,
    "only_trusted_servers": None,
    "allowed_groups": None,
}


def test_null_federation_settings_write_nothing() -> None:
    assert talk.talk_federation_changes({"federation_enabled": "yes"}, NOTHING) == {}


def test_federation_values_are_written_as_spreed_stores_them() -> None:
    wanted = {
        "enabled": True,
        "incoming": False,
        "outgoing": True,
        "only_trusted_servers": True,
        "allowed_groups": ["talk/users", "b"],
    }
    assert talk.talk_federation_changes({}, wanted) == {
        "federation_enabled": "yes",
        "federation_incoming_enabled": "0",
        "federation_outgoing_enabled": "1",
        "federation_only_trusted_servers": "1",
        "federation_allowed_groups": '["talk\\/users","b"]',
    }


def test_federation_values_that_mean_the_same_are_not_rewritten() -> None:
    current = {
        "federation_enabled": "yes",
        "federation_incoming_enabled": "yes",
        "federation_outgoing_enabled": "0",
        "federation_only_trusted_servers": "1",
        "federation_allowed_groups": '["b","a"]',
    }
    wanted = {
        "enabled": True,
        "incoming": True,
        "outgoing": False,
        "only_trusted_servers": True,
        "allowed_groups": ["b", "a"],
    }
    assert talk.talk_federation_changes(current, wanted) == {}
    assert talk.talk_federation_changes(current, {**wanted, "allowed_groups": ["a", "b"]}) == {
        "federation_allowed_groups": '["a","b"]'
    }


def test_federation_off_is_not_written_while_unset() -> None:
    # isFederationEnabled(): unset is "no"
    assert talk.talk_federation_changes({}, {**NOTHING, "enabled": False}) == {}
    assert talk.talk_federation_changes({}, {**NOTHING, "allowed_groups": []}) == {
        "federation_allowed_groups": "[]"
    }


def test_federation_state_reads_talks_defaults() -> None:
    assert talk.talk_federation_state({}) == {
        "enabled": False,
        "incoming_enabled": True,
        "outgoing_enabled": True,
        "only_trusted_servers": False,
        "allowed_groups": [],
    }
    state = talk.talk_federation_state(
        {
            "federation_enabled": "yes",
            "federation_only_trusted_servers": "1",
            "federation_allowed_groups": '["g"]',
        }
    )
    assert (state["enabled"], state["only_trusted_servers"], state["allowed_groups"]) == (
        True,
        True,
        ["g"],
    )


def test_apps_federation_needs() -> None:
    assert talk.talk_federation_apps(None, True) == []
    assert talk.talk_federation_apps(False, True) == []
    assert talk.talk_federation_apps(True, None) == ["cloud_federation_api", "federatedfilesharing"]
    assert talk.talk_federation_apps(True, True)[-1] == "federation"


@pytest.mark.parametrize(
    ("rc", "stdout", "state"),
    [
        (1, "", "unknown"),  # Nextcloud 32: the command is not defined
        (0, "No trusted servers configured.\n", "none"),
        (
            0,
            "+----+---------------------+--------+\n| id | url | status |\n+----+\n"
            "| 1  | https://b.example   | ok     |\n+----+\n",
            "some",
        ),
        (0, "something else\n", "unknown"),
    ],
)
def test_trusted_servers_answers(rc: int, stdout: str, state: str) -> None:
    # nextcloud/server pull request 63440, ManageTrustedServers.php listServers()
    assert talk.talk_trusted_servers(rc, stdout) == state


# ---------------------------------------------------------------- the conversation check


def result(rc: int, stdout: str = "", delta: str = "0:00:00.250000") -> dict[str, object]:
    return {"rc": rc, "stdout": stdout, "stderr": "", "delta": delta}


CREATED = result(0, "Room token: abcd2345\nRoom successfully created.")
DELETED = result(0, "Room successfully deleted.")
GONE = result(1)
SKIPPED = {"skipped": True, "changed": False}


def test_room_token_is_read_from_create() -> None:
    assert talk.talk_room_token(CREATED["stdout"]) == "abcd2345"
    assert talk.talk_room_token("Room successfully created.") == ""
    assert talk.talk_room_token("Room token: ../x") == ""


def test_a_full_conversation_passes_every_step() -> None:
    steps = talk.talk_conversation_steps(
        CREATED,
        result(0, "Users successfully added to room."),
        result(0, '{"attendees":2,"sessions":0,"call":0}'),
        DELETED,
        GONE,
        "alice",
        "bob",
    )
    assert [(s["name"], s["ok"]) for s in steps] == [
        ("conversation created", True),
        ("conversation peer added", True),
        ("conversation read back", True),
        ("conversation deleted", True),
    ]
    assert steps[0]["seconds"] == 0.25
    assert "token abcd2345" in steps[0]["detail"]


def test_a_wrong_attendee_count_fails_the_read_back() -> None:
    steps = talk.talk_conversation_steps(
        CREATED,
        SKIPPED,
        result(0, '{"attendees":0,"sessions":0,"call":0}'),
        DELETED,
        GONE,
        "alice",
        "",
    )
    assert [s["name"] for s in steps if not s["ok"]] == ["conversation read back"]


def test_an_unknown_user_fails_creation_and_leaves_nothing_to_delete() -> None:
    steps = talk.talk_conversation_steps(
        result(1, "User 'carol' not found."), SKIPPED, SKIPPED, SKIPPED, SKIPPED, "carol", ""
    )
    assert steps[0] == {
        "name": "conversation created",
        "ok": False,
        "seconds": 0.25,
        "detail": "exit 1: User 'carol' not found.",
    }
    assert steps[-1]["name"] == "conversation deleted" and steps[-1]["ok"]


def test_a_conversation_still_found_after_delete_fails_the_delete() -> None:
    steps = talk.talk_conversation_steps(
        CREATED,
        SKIPPED,
        result(0, '{"attendees":1}'),
        DELETED,
        result(0, '{"attendees":1}'),
        "alice",
        "",
    )
    assert steps[-1]["ok"] is False
    assert "still finds abcd2345" in steps[-1]["detail"]


def test_a_failed_peer_is_reported_and_the_room_still_deleted() -> None:
    steps = talk.talk_conversation_steps(
        CREATED,
        result(1, "User 'bob' not found."),
        result(0, '{"attendees":1}'),
        DELETED,
        GONE,
        "alice",
        "bob",
    )
    assert [(s["name"], s["ok"]) for s in steps] == [
        ("conversation created", True),
        ("conversation peer added", False),
        ("conversation read back", False),
        ("conversation deleted", True),
    ]


def test_user_id_problems() -> None:
    assert talk.talk_user_id_problem("alice") == ""
    assert talk.talk_user_id_problem("o'brien.x@example.org") == ""
    assert "not a Nextcloud user id" in talk.talk_user_id_problem("a;b")
    assert "control character" in talk.talk_user_id_problem("a\nb")
    assert "not a Nextcloud user id" in talk.talk_user_id_problem(" alice")
    assert "not a Nextcloud user id" in talk.talk_user_id_problem("x" * 65)


# The coturn_endpoint of a TURN host outside the run (`--limit nextcloud`), computed for the
# nextcloud_talk role by the collection's plugins/filter/coturn.py.
COTURN_PLUGIN = PLUGIN.parent / "coturn.py"


def load_coturn_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("coturn_filters", COTURN_PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


coturn_filters = load_coturn_plugin()


def test_host_endpoint_uses_the_coturn_defaults_templated_for_that_host() -> None:
    computed = coturn_filters.coturn_host_endpoint({"group_names": ["turn_servers"]}, "turn1.test")
    assert computed["errors"] == []
    assert computed["endpoint"] == {
        "public_name": "turn1.test",  # coturn_public_name: "{{ inventory_hostname }}"
        "listening_port": 443,
        "tls_listening_port": None,
        "min_port": 49152,
        "max_port": 65535,
        "udp": True,
        "tcp": True,
        "tls": False,
        "dtls": False,
    }


def test_host_endpoint_takes_the_hosts_own_values_over_the_defaults() -> None:
    host_vars = {
        "group_names": ["turn_servers"],
        "coturn_public_name": "turn.example.org",
        "coturn_listening_port": "3478",
        "coturn_no_udp": True,
        "coturn_static_auth_secret": "0123456789abcdef" * 4,
        "talk_nextcloud_path": "/ignored",  # not a coturn variable
    }
    computed = coturn_filters.coturn_host_endpoint(host_vars, "turn1")
    endpoint = computed["endpoint"]
    assert computed["errors"] == []
    assert endpoint["public_name"] == "turn.example.org"
    assert endpoint["listening_port"] == 3478
    assert (endpoint["udp"], endpoint["tcp"]) == (False, True)
    assert "0123456789abcdef" not in json.dumps(computed)


def test_host_endpoint_reports_invalid_settings_without_the_secret() -> None:
    secret = "not hex; but secret"
    host_vars = {"coturn_listening_port": 70000, "coturn_static_auth_secret": secret}
    computed = coturn_filters.coturn_host_endpoint(host_vars, "turn9.test")
    assert computed["endpoint"] is None
    assert any(error.startswith("coturn_listening_port") for error in computed["errors"])
    assert any("coturn_static_auth_secret" in error for error in computed["errors"])
    assert secret not in json.dumps(computed)
