"""The occ EMULATOR (molecule/shared/occ_emulator/occ) behaves like the real occ.

It is the one stand-in of the talkdeploy tests: Nextcloud cannot be installed here, so the
nextcloud_talk molecule scenario runs this emulator. Each test pins one behaviour to where it
comes from: a source file of nextcloud/server or nextcloud/spreed, or docs/facts.md ("Observed on
a real Nextcloud 32.0.1 + Talk 22"). The emulator runs with the host's `php`, in a temporary
install owned by www-data when the tests run as root (as in CI), else by the current user.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EMULATOR = Path(__file__).resolve().parent.parent / "molecule" / "shared" / "occ_emulator" / "occ"
PHP = shutil.which("php")
IS_ROOT = os.geteuid() == 0

pytestmark = pytest.mark.skipif(
    PHP is None, reason="needs php-cli (scripts/ensure-host-packages.sh)"
)

CONFIG_PHP = """<?php
$CONFIG = array (
  'installed' => true,
  'version' => '32.0.1.2',
  'maintenance' => %s,
);
"""


@dataclass
class Occ:
    root: Path

    def run(
        self, *args: str, user: str | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [str(PHP), str(self.root / "occ"), *args]
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, check=False, timeout=30
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--output=json"))

    def enable_talk(self) -> None:
        self.ok("app:install", "spreed")


def make_install(maintenance: bool = False) -> Path:
    root = Path(tempfile.mkdtemp(prefix="talkdeploy-occ-"))
    root.chmod(0o755)
    (root / "config").mkdir(mode=0o750)
    (root / "data").mkdir(mode=0o750)
    shutil.copy(EMULATOR, root / "occ")
    (root / "config" / "config.php").write_text(
        CONFIG_PHP % ("true" if maintenance else "false"), encoding="utf-8"
    )
    if IS_ROOT:
        web = pwd.getpwnam("www-data")
        for path in [root, root / "config", root / "data", root / "config" / "config.php"]:
            os.chown(path, web.pw_uid, web.pw_gid)
    return root


@pytest.fixture
def occ() -> Iterator[Occ]:
    root = make_install()
    yield Occ(root)
    shutil.rmtree(root)


@pytest.fixture
def talk(occ: Occ) -> Occ:
    occ.enable_talk()
    return occ


# ------------------------------------------------------------------ status and apps


def test_status_json_has_the_keys_and_values_of_nextcloud_32(occ: Occ) -> None:
    # nextcloud/server core/Command/Status.php; keys as on Nextcloud 32.0.1 (docs/facts.md)
    assert occ.json("status") == {
        "installed": True,
        "version": "32.0.1.2",
        "versionstring": "32.0.1",
        "edition": "",
        "maintenance": False,
        "needsDbUpgrade": False,
        "productname": "Nextcloud",
        "extendedSupport": False,
    }


def test_status_reports_maintenance_from_config_php() -> None:
    # nextcloud/server core/Command/Status.php: `maintenance` is config.php's; --exit-code -> 1
    root = make_install(maintenance=True)
    try:
        occ = Occ(root)
        assert occ.json("status")["maintenance"] is True
        assert occ.run("status", "--exit-code").returncode == 1
    finally:
        shutil.rmtree(root)


def test_maintenance_mode_on_writes_config_php_and_warns_other_commands_on_stderr(
    talk: Occ,
) -> None:
    # lib/private/Console/Application.php: app commands are not loaded in maintenance mode
    assert talk.ok("maintenance:mode", "--on").strip() == "Maintenance mode enabled"
    assert "'maintenance' => true" in (talk.root / "config" / "config.php").read_text()
    result = talk.run("talk:turn:list")
    assert result.returncode == 1
    assert "maintenance mode" in result.stderr
    assert 'Command "talk:turn:list" is not defined.' in result.stderr
    assert talk.ok("maintenance:mode", "--off").strip() == "Maintenance mode disabled"
    assert talk.json("talk:turn:list") == []


def test_app_list_json_separates_enabled_and_disabled(talk: Occ) -> None:
    # nextcloud/server core/Command/App/ListApps.php: `--output=json` splits enabled/disabled
    apps = talk.json("app:list")
    assert apps["enabled"]["spreed"] == "22.0.1"
    talk.ok("app:disable", "spreed")
    apps = talk.json("app:list")
    assert "spreed" not in apps["enabled"]
    assert apps["disabled"]["spreed"] == "22.0.1"


def test_app_install_installs_and_enables_the_app(occ: Occ) -> None:
    # core/Command/App/Install.php: enables unless --keep-disabled
    assert occ.ok("app:install", "spreed").splitlines() == [
        "spreed 22.0.1 installed",
        "spreed 22.0.1 enabled",
    ]
    assert "spreed" in occ.json("app:list")["enabled"]


def test_app_install_of_an_installed_app_fails_with_already_installed(talk: Occ) -> None:
    # nextcloud/server core/Command/App/Install.php execute(): `spreed already installed`, exit 1
    result = talk.run("app:install", "spreed")
    assert (result.returncode, result.stdout.strip()) == (1, "spreed already installed")


def test_app_enable_of_an_enabled_app_says_already_enabled_with_exit_0(talk: Occ) -> None:
    # nextcloud/server core/Command/App/Enable.php enableApp(): `spreed already enabled`, exit 0
    result = talk.run("app:enable", "spreed")
    assert (result.returncode, result.stdout.strip()) == (0, "spreed already enabled")


def test_app_enable_of_an_unknown_app_says_not_found_with_exit_1(occ: Occ) -> None:
    # nextcloud/server core/Command/App/Enable.php enableApp(): `spreed not found`, exit 1
    result = occ.run("app:enable", "spreed")
    assert (result.returncode, result.stdout.strip()) == (1, "spreed not found")


def test_app_disable_twice_says_no_such_app_enabled_with_exit_0(talk: Occ) -> None:
    # core/Command/App/Disable.php: `spreed <ver> disabled`, then `No such app enabled: spreed` (0)
    assert talk.ok("app:disable", "spreed").strip() == "spreed 22.0.1 disabled"
    result = talk.run("app:disable", "spreed")
    assert (result.returncode, result.stdout.strip()) == (0, "No such app enabled: spreed")


def test_talk_commands_do_not_exist_while_talk_is_not_enabled(occ: Occ) -> None:
    # lib/private/Console/Application.php registers app commands of enabled apps only
    result = occ.run("talk:stun:list")
    assert result.returncode == 1
    assert 'Command "talk:stun:list" is not defined.' in result.stderr


# ------------------------------------------------------------------ STUN


def test_stun_list_prints_an_empty_json_list_while_unset(talk: Occ) -> None:
    # spreed lib/Command/Stun/ListCommand.php: `--output=json` prints [] while unset
    assert talk.ok("talk:stun:list", "--output=json").strip() == "[]"


def test_stun_add_without_a_port_is_refused_on_stdout_with_exit_1(talk: Occ) -> None:
    # spreed lib/Command/Stun/Add.php: host and port both needed; errors go to stdout
    result = talk.run("talk:stun:add", "stun.example.com")
    assert (result.returncode, result.stdout.strip()) == (
        1,
        "Incorrect value. Must be stunserver:port.",
    )
    assert result.stderr == ""


def test_stun_add_of_a_url_stores_host_and_port(talk: Occ) -> None:
    # spreed lib/Command/Stun/Add.php: `talk:stun:add https://h:443` counts as `h:443` (parse_url)
    assert talk.ok("talk:stun:add", "https://stun.example.com:443").strip() == (
        "Added stun.example.com:443."
    )
    assert talk.json("talk:stun:list") == ["stun.example.com:443"]


def test_stun_add_of_a_duplicate_is_refused_with_exit_1(talk: Occ) -> None:
    # spreed lib/Command/Stun/Add.php (Talk >= 20): `Server already exists.` exit 1
    talk.ok("talk:stun:add", "stun.example.com:443")
    result = talk.run("talk:stun:add", "stun.example.com:443")
    assert (result.returncode, result.stdout.strip()) == (1, "Server already exists.")
    assert talk.json("talk:stun:list") == ["stun.example.com:443"]


def test_stun_delete_of_the_last_server_stores_the_default_again(talk: Occ) -> None:
    # spreed lib/Command/Stun/Delete.php: Config::DEFAULT_STUN_SERVER
    talk.ok("talk:stun:add", "stun.example.com:443")
    result = talk.run("talk:stun:delete", "stun.example.com:443")
    assert result.returncode == 0
    assert "A default STUN server was added." in result.stdout
    assert talk.json("talk:stun:list") == ["stun.nextcloud.com:443"]


def test_stun_delete_of_an_absent_server_exits_0(talk: Occ) -> None:
    # spreed lib/Command/Stun/Delete.php: always exit 0
    talk.ok("talk:stun:add", "a.example.com:3478")
    talk.ok("talk:stun:add", "b.example.com:3478")
    result = talk.run("talk:stun:delete", "c.example.com:3478")
    assert (result.returncode, result.stdout.strip()) == (0, "There is nothing to delete.")


# ------------------------------------------------------------------ TURN


def test_turn_add_refuses_protocols_tcp_comma_udp(talk: Occ) -> None:
    # spreed lib/Command/Turn/Add.php: protocols exactly udp, tcp or udp,tcp
    result = talk.run("talk:turn:add", "turn", "t.example.com:443", "tcp,udp", "--secret=s")
    assert (result.returncode, result.stdout.strip()) == (
        1,
        "Not allowed protocols, must be udp or tcp or udp,tcp.",
    )


def test_turn_add_refuses_unknown_schemes(talk: Occ) -> None:
    # spreed lib/Command/Turn/Add.php: schemes exactly turn, turns or turn,turns
    result = talk.run("talk:turn:add", "turns,turn", "t.example.com:443", "udp", "--secret=s")
    assert (result.returncode, result.stdout.strip()) == (
        1,
        "Not allowed schemes, must be turn or turns or turn,turns.",
    )


def test_turn_add_needs_exactly_one_of_secret_and_generate_secret(talk: Occ) -> None:
    # spreed lib/Command/Turn/Add.php
    for extra in ([], ["--secret=s", "--generate-secret"]):
        result = talk.run("talk:turn:add", "turn", "t.example.com:443", "udp", *extra)
        assert (result.returncode, result.stdout.strip()) == (
            1,
            "You must provide --secret or --generate-secret.",
        )


def test_turn_add_generate_secret_stores_40_hex_characters(talk: Occ) -> None:
    # spreed lib/Command/Turn/Add.php getUniqueSecret(): 40 hex (sha1(uniqid()))
    talk.ok("talk:turn:add", "turn", "t.example.com:443", "udp", "--generate-secret")
    (entry,) = talk.json("talk:turn:list")
    assert re.fullmatch(r"[0-9a-f]{40}", entry["secret"])


def test_turn_add_strips_https_and_stores_talks_key_order(talk: Occ) -> None:
    # spreed lib/Command/Turn/Add.php: strips http(s)://; keys schemes, server, secret, protocols
    assert talk.ok(
        "talk:turn:add", "turn,turns", "https://t.example.com:443", "udp,tcp", "--secret", "s3"
    ).strip() == ("Added t.example.com:443.")
    raw = talk.ok("config:app:get", "spreed", "turn_servers").strip()
    assert raw == (
        '[{"schemes":"turn,turns","server":"t.example.com:443","secret":"s3","protocols":"udp,tcp"}]'
    )


def test_turn_add_of_a_duplicate_with_another_secret_is_refused(talk: Occ) -> None:
    # spreed lib/Command/Turn/Add.php (Talk >= 20): same schemes+server+protocols -> exit 1
    talk.ok("talk:turn:add", "turn", "t.example.com:443", "udp", "--secret=one")
    result = talk.run("talk:turn:add", "turn", "t.example.com:443", "udp", "--secret=two")
    assert (result.returncode, result.stdout.strip()) == (
        1,
        "Server already exists with the same configuration.",
    )
    assert [e["secret"] for e in talk.json("talk:turn:list")] == ["one"]


def test_turn_delete_removes_exact_matches_only_and_exits_0(talk: Occ) -> None:
    # spreed lib/Command/Turn/Delete.php: exact match, always exit 0
    talk.ok("talk:turn:add", "turn", "t.example.com:443", "udp", "--secret=s")
    result = talk.run("talk:turn:delete", "turn", "t.example.com:443", "udp,tcp")
    assert (result.returncode, result.stdout.strip()) == (0, "There is nothing to delete.")
    assert len(talk.json("talk:turn:list")) == 1
    assert talk.ok("talk:turn:delete", "turn", "t.example.com:443", "udp").strip() == (
        "Deleted t.example.com:443."
    )
    assert talk.json("talk:turn:list") == []


def test_turn_list_prints_whatever_is_stored_secrets_included(talk: Occ) -> None:
    # spreed lib/Command/Turn/ListCommand.php: stored JSON WITH secrets, even without schemes
    stored = [{"server": "old.example.com:3478", "secret": "legacy", "protocols": "udp"}]
    talk.ok("config:app:set", "spreed", "turn_servers", "--value=" + json.dumps(stored))
    assert talk.json("talk:turn:list") == stored


def test_missing_arguments_are_reported_on_stderr_with_exit_1(talk: Occ) -> None:
    # symfony/console Input/Input.php validate(): `Not enough arguments (...)`, on stderr
    result = talk.run("talk:turn:add", "turn", "t.example.com:443", "--secret=s")
    assert result.returncode == 1
    assert 'Not enough arguments (missing: "protocols").' in result.stderr
    assert result.stdout == ""


def test_unknown_options_are_refused_on_stderr(talk: Occ) -> None:
    # Symfony Console ArgvInput: an option the command does not define is an error
    result = talk.run("talk:stun:list", "--secret=x")
    assert result.returncode == 1
    assert 'The "--secret" option does not exist.' in result.stderr


# ------------------------------------------------------------------ app config


def test_config_app_set_of_an_unchanged_value_says_not_updated(talk: Occ) -> None:
    # nextcloud/server core/Command/Config/App/SetConfig.php (Nextcloud >= 29): not updated
    talk.ok("config:app:set", "spreed", "federation_enabled", "--value=yes")
    result = talk.run("config:app:set", "spreed", "federation_enabled", "--value=yes")
    assert (result.returncode, result.stdout.strip()) == (0, "Config value were not updated")


def test_config_app_set_of_a_changed_value_echoes_it_back(talk: Occ) -> None:
    # core/Command/Config/App/SetConfig.php echoes a changed value (the secret!): hide the output
    out = talk.ok("config:app:set", "spreed", "turn_servers", '--value=[{"secret":"topsecret"}]')
    assert "topsecret" in out
    assert out.startswith("Config value 'turn_servers' for app 'spreed' is now set to")


def test_config_app_get_of_an_unset_key_exits_1_without_output(talk: Occ) -> None:
    # nextcloud/server core/Command/Config/App/GetConfig.php: unset, no --default-value -> exit 1
    result = talk.run("config:app:get", "spreed", "turn_servers")
    assert (result.returncode, result.stdout) == (1, "")


def test_config_app_delete_of_an_absent_key_exits_0(talk: Occ) -> None:
    # nextcloud/server core/Command/Config/App/DeleteConfig.php: exit 0 even when absent
    result = talk.run("config:app:delete", "spreed", "k")
    assert (result.returncode, result.stdout.strip()) == (0, "Config value k of app spreed deleted")


def test_config_list_of_an_app_prints_its_values_as_strings(talk: Occ) -> None:
    # core/Command/Config/ListConfigs.php: {"apps": {"<app>": {...}}}, values as stored
    talk.ok("talk:stun:add", "stun.example.com:443")
    values = talk.json("config:list", "spreed", "--private")["apps"]["spreed"]
    assert values["enabled"] == "yes"
    assert json.loads(values["stun_servers"]) == ["stun.example.com:443"]


def test_config_list_masks_sensitive_values_unless_private(talk: Occ) -> None:
    # core/Command/Config/ListConfigs.php: --private includes sensitive values
    talk.ok("config:app:set", "spreed", "k", "--value=hidden", "--sensitive")
    assert talk.json("config:list", "spreed")["apps"]["spreed"]["k"] != "hidden"
    assert talk.json("config:list", "spreed", "--private")["apps"]["spreed"]["k"] == "hidden"


# ------------------------------------------------------------------ config:import
# nextcloud/server core/Command/Config/Import.php (master, commit 0fca8837; the same code at
# commit 8a75092c of an older stable branch): execute(), getArrayFromStdin(),
# validateFileContent(), validateArray(), validateAppsArray().

IMPORTED = "Config successfully imported from: \n"
TURN_VALUE = (
    '[{"schemes":"turn","server":"t.example.com:443","secret":"s3cr\\/t","protocols":"udp"}]'
)


def state_bytes(occ: Occ) -> bytes:
    return (occ.root / "data" / "talkdeploy-emulator-state.json").read_bytes()


def test_config_import_reads_stdin_and_stores_the_strings_as_given(talk: Occ) -> None:
    # execute() + getArrayFromStdin(): no file argument -> php://stdin; the message ends with
    # the (empty) file argument; IAppConfig::setValue() stores each string as it is
    document = {"apps": {"spreed": {"turn_servers": TURN_VALUE, "federation_enabled": "yes"}}}
    result = talk.run("config:import", "--no-warnings", stdin=json.dumps(document))
    assert (result.returncode, result.stdout, result.stderr) == (0, IMPORTED, "")
    assert talk.ok("config:app:get", "spreed", "turn_servers") == TURN_VALUE + "\n"
    values = talk.json("config:list", "spreed", "--private")["apps"]["spreed"]
    assert (values["turn_servers"], values["federation_enabled"]) == (TURN_VALUE, "yes")
    assert talk.json("talk:turn:list")[0]["secret"] == "s3cr/t"


def test_config_import_from_a_file_names_the_file(talk: Occ) -> None:
    # execute(): getArrayFromFile() when the file argument is given; it ends the message
    document = talk.root / "talk.json"  # readable by the web user occ switches to
    document.write_text('{"apps":{"spreed":{"federation_enabled":"no"}}}', encoding="utf-8")
    result = talk.run("config:import", str(document))
    assert (result.returncode, result.stdout) == (
        0,
        f"Config successfully imported from: {document}\n",
    )
    assert talk.ok("config:app:get", "spreed", "federation_enabled") == "no\n"


def test_config_import_of_a_missing_file_is_refused_like_an_empty_document(talk: Occ) -> None:
    # getArrayFromFile(): file_get_contents() gives false (its warning goes to nextcloud.log,
    # lib/private/Log/ErrorHandler.php onError()), which validateFileContent() refuses
    result = talk.run("config:import", str(talk.root / "missing.json"))
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "The file must contain a valid json array\n",
        "",
    )


def test_config_import_null_deletes_and_an_integer_is_stored_as_a_string(talk: Occ) -> None:
    # execute(): null -> IAppConfig::deleteKey(); validateAppsArray() allows integers
    talk.ok("config:app:set", "spreed", "k", "--value=old")
    document = '{"apps":{"spreed":{"k":null,"n":3}}}'
    assert talk.run("config:import", stdin=document).stdout == IMPORTED
    assert talk.run("config:app:get", "spreed", "k").returncode == 1
    assert talk.ok("config:app:get", "spreed", "n") == "3\n"


def test_config_import_system_values_go_to_config_php(talk: Occ) -> None:
    # execute(): IConfig::setSystemValues() writes config/config.php
    result = talk.run("config:import", stdin='{"system":{"maintenance":true}}')
    assert (result.returncode, result.stdout) == (0, IMPORTED)
    assert talk.json("status")["maintenance"] is True


@pytest.mark.parametrize(
    ("document", "message"),
    [
        # validateFileContent(): json_decode() must give a non-empty array
        ("", "The file must contain a valid json array"),
        ('{"apps":{"spreed":{"turn_servers":"x"}', "The file must contain a valid json array"),
        ("{}", "The file must contain a valid json array"),
        ('"apps"', "The file must contain a valid json array"),
        # validateArray(): only system and apps at the root, each an array
        ('{"apps":{},"spreed":{},"x":1}', "Found invalid entries in root: spreed, x"),
        ('{"apps":"spreed"}', "The apps config array is not an array"),
        ('{"system":1}', "The system config array is not an array"),
        # validateAppsArray(): integers, strings and null only: a JSON list must be a string
        (
            '{"apps":{"spreed":{"federation_enabled":"yes","turn_servers":[{"secret":"s"}]}}}',
            'Invalid app config value for "spreed":"turn_servers". '
            "Only integers, strings and null (delete) are allowed.",
        ),
        (
            '{"apps":{"spreed":{"federation_enabled":true}}}',
            'Invalid app config value for "spreed":"federation_enabled". '
            "Only integers, strings and null (delete) are allowed.",
        ),
    ],
)
def test_config_import_refuses_a_bad_document_on_stdout_with_exit_1_writing_nothing(
    talk: Occ, document: str, message: str
) -> None:
    # execute(): the UnexpectedValueException's message on stdout, exit 1, before any write
    before = state_bytes(talk)
    result = talk.run("config:import", stdin=document)
    assert (result.returncode, result.stdout, result.stderr) == (1, message + "\n", "")
    assert state_bytes(talk) == before
    assert talk.run("config:app:get", "spreed", "federation_enabled").returncode == 1


def test_config_import_has_no_output_option(talk: Occ) -> None:
    # Import extends Symfony's Command, not core/Command/Base: no --output option
    result = talk.run("config:import", "--output=json", stdin='{"apps":{}}')
    assert result.returncode == 1
    assert 'The "--output" option does not exist.' in result.stderr


# ------------------------------------------------------------------ who may run it


@pytest.mark.skipif(not IS_ROOT, reason="needs root to own the install as www-data")
def test_root_is_switched_to_the_config_owner(talk: Occ) -> None:
    # docs/facts.md (observed on Nextcloud 32.0.1): run as root, occ switches to the config owner
    state = talk.root / "data" / "talkdeploy-emulator-state.json"
    assert state.owner() == "www-data"
    assert state.stat().st_mode & 0o077 == 0  # holds secrets: not group/world readable


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run as another user")
def test_another_user_without_config_access_gets_cannot_write_and_exit_0(occ: Occ) -> None:
    # nextcloud/server lib/base.php OC::checkConfig(): `Cannot write into "config"...`, exit 0 (!)
    result = occ.run("status", "--output=json", user="nobody")
    assert result.returncode == 0
    assert 'Cannot write into "config" directory!' in result.stdout
    assert '"installed"' not in result.stdout


@pytest.mark.skipif(not IS_ROOT, reason="needs root to run as another user")
def test_another_user_with_config_access_is_refused_with_exit_1(occ: Occ) -> None:
    # nextcloud/server console.php: "Console has to be executed with the user that owns ..."
    (occ.root / "config").chmod(0o777)
    result = occ.run("status", user="nobody")
    assert result.returncode == 1
    assert result.stdout.startswith(
        "Console has to be executed with the user that owns the file config/config.php"
    )
    assert "Owner id of config.php: 33" in result.stdout


# ------------------------------------------------------------------ signaling


def test_signaling_add_appends_duplicates_and_overwrites_the_shared_secret(talk: Occ) -> None:
    # spreed lib/Command/Signaling/Add.php: appends duplicates, overwrites the one secret
    assert talk.ok("talk:signaling:add", "--verify", "wss://s.example.com", "one").strip() == (
        "Added signaling server wss://s.example.com."
    )
    talk.ok("talk:signaling:add", "wss://s.example.com", "two")
    assert talk.json("talk:signaling:list") == {
        "servers": [
            {"server": "wss://s.example.com", "verify": True},
            {"server": "wss://s.example.com", "verify": False},
        ],
        "secret": "two",
    }


def test_signaling_add_with_an_empty_secret_is_refused(talk: Occ) -> None:
    # spreed lib/Command/Signaling/Add.php: `Secret cannot be empty.` (1)
    result = talk.run("talk:signaling:add", "wss://s.example.com", " ")
    assert (result.returncode, result.stdout.strip()) == (1, "Secret cannot be empty.")


def test_signaling_delete_removes_every_occurrence_and_keeps_the_secret(talk: Occ) -> None:
    # spreed lib/Command/Signaling/Delete.php
    talk.ok("talk:signaling:add", "wss://s.example.com", "one")
    talk.ok("talk:signaling:add", "wss://s.example.com", "one")
    assert talk.ok("talk:signaling:delete", "wss://s.example.com").strip() == (
        "Deleted wss://s.example.com."
    )
    assert talk.json("talk:signaling:list") == {"servers": [], "secret": "one"}


# ------------------------------------------------------------------ federation's apps


def test_the_apps_talk_federation_needs_ship_enabled(occ: Occ) -> None:
    # docs/facts.md, "Talk federation": federatedfilesharing, cloud_federation_api, federation
    enabled = occ.json("app:list")["enabled"]
    assert {"cloud_federation_api", "federatedfilesharing", "federation"} <= set(enabled)


def test_app_enable_takes_several_apps_in_one_call(talk: Occ) -> None:
    # nextcloud/server core/Command/App/Enable.php: app-id is an array argument
    talk.ok("app:disable", "spreed", "federatedfilesharing")
    out = talk.ok("app:enable", "spreed", "federatedfilesharing", "files")
    assert out.splitlines() == [
        "spreed 22.0.1 enabled",
        "federatedfilesharing 1.22.0 enabled",
        "files already enabled",
    ]


def test_trusted_servers_have_no_occ_command_on_nextcloud_32(talk: Occ) -> None:
    # nextcloud/server has no `federation:trusted-servers` before pull request 63440
    result = talk.run("federation:trusted-servers", "--list")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith('Command "federation:trusted-servers" is not defined.')


# ------------------------------------------------------------------ conversations (rooms)

USERS_CONFIG_PHP = """<?php
$CONFIG = array (
  'installed' => true,
  'version' => '32.0.1.2',
  'maintenance' => false,
  'talkdeploy_emulator_users' => array ('alice', 'bob'),
);
"""


@pytest.fixture
def rooms(talk: Occ) -> Occ:
    """Talk enabled, with the users alice and bob (and no admin)."""
    (talk.root / "config" / "config.php").write_text(USERS_CONFIG_PHP, encoding="utf-8")
    return talk


def create_room(occ: Occ, *args: str) -> str:
    out = occ.ok("talk:room:create", *args)
    match = re.fullmatch(r"Room token: ([a-z0-9]+)\nRoom successfully created\.\n", out)
    assert match, out
    return match.group(1)


def test_room_create_prints_the_token_then_success(rooms: Occ) -> None:
    # spreed lib/Command/Room/Create.php; tokens: lib/Manager.php generateNewToken()
    token = create_room(rooms, "--user=alice", "--owner=alice", "--", "-a name")
    assert re.fullmatch(r"[a-km-z2-9]{8}", token)
    assert rooms.json("talk:monitor:room", token) == {"attendees": 1, "sessions": 0, "call": 0}


def test_room_create_with_an_unknown_user_keeps_no_room(rooms: Occ) -> None:
    # Create.php: a refused option deletes the new room (deleteRoom()) and exits 1
    before = state_bytes(rooms)
    result = rooms.run("talk:room:create", "--user=carol", "--owner=carol", "x")
    assert (result.returncode, result.stdout) == (1, "User 'carol' not found.\n")
    assert state_bytes(rooms) == before


def test_room_create_with_an_owner_who_is_not_a_participant_is_refused(rooms: Occ) -> None:
    # TRoomCommand::setRoomOwner()
    result = rooms.run("talk:room:create", "--owner=alice", "x")
    assert (result.returncode, result.stdout) == (1, "User 'alice' is no participant.\n")


def test_room_create_refuses_an_empty_name(rooms: Occ) -> None:
    # Create.php: RoomService::createConversation() throws 'name' for a blank name
    result = rooms.run("talk:room:create", "--user=alice", "   ")
    assert (result.returncode, result.stdout) == (1, "Invalid room name.\n")


def test_room_create_refuses_a_password_on_a_group_room(rooms: Occ) -> None:
    # TRoomCommand::setRoomPassword()
    result = rooms.run("talk:room:create", "--password=p", "x")
    assert result.stdout == "Unable to add password protection to private room.\n"
    assert result.returncode == 1


def test_room_add_adds_an_existing_user_and_refuses_an_unknown_one(rooms: Occ) -> None:
    # spreed lib/Command/Room/Add.php
    token = create_room(rooms, "--user=alice", "--owner=alice", "x")
    assert rooms.ok("talk:room:add", "--user=bob", token) == "Users successfully added to room.\n"
    assert rooms.json("talk:monitor:room", token)["attendees"] == 2
    result = rooms.run("talk:room:add", "--user=carol", token)
    assert (result.returncode, result.stdout) == (1, "User 'carol' not found.\n")
    missing = rooms.run("talk:room:add", "--user=bob", "nosuchroom")
    assert (missing.returncode, missing.stdout) == (1, "Room not found.\n")


def test_room_delete_removes_it_and_a_second_delete_is_not_found(rooms: Occ) -> None:
    # spreed lib/Command/Room/Delete.php
    token = create_room(rooms, "--user=alice", "--owner=alice", "x")
    assert rooms.ok("talk:room:delete", token) == "Room successfully deleted.\n"
    again = rooms.run("talk:room:delete", token)
    assert (again.returncode, again.stdout) == (1, "Room not found.\n")


def test_monitor_room_of_an_unknown_token(rooms: Occ) -> None:
    # spreed lib/Command/Monitor/Room.php: exit 1; the message only in plain output
    as_json = rooms.run("talk:monitor:room", "--output=json", "nosuchroom")
    assert (as_json.returncode, as_json.stdout) == (1, "")
    plain = rooms.run("talk:monitor:room", "nosuchroom")
    assert (plain.returncode, plain.stdout) == (1, "Room with token nosuchroom not found\n")


def test_monitor_room_plain_output(rooms: Occ) -> None:
    token = create_room(rooms, "--user=alice", "--owner=alice", "x")
    assert rooms.ok("talk:monitor:room", token) == (
        "The conversation has 1 attendees with 0 sessions of which 0 are in the call.\n"
    )


def test_room_commands_need_their_token_argument(rooms: Occ) -> None:
    result = rooms.run("talk:room:delete")
    assert result.returncode == 1
    assert result.stderr.startswith('Not enough arguments (missing: "token").')


def test_users_default_to_the_admin_of_an_installed_nextcloud(talk: Occ) -> None:
    token = create_room(talk, "--user=admin", "--owner=admin", "x")
    assert talk.ok("talk:room:delete", token) == "Room successfully deleted.\n"
