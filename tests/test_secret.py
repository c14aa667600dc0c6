"""`talkdeploy secret`: generated from `secrets`, vault-encrypted or 0600, printed only by show."""

from __future__ import annotations

import re
import stat
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from inventory_factory import CLOUD, GOOD_SECRET, TURN, write_inventory

from talkdeploy.cli import main
from talkdeploy.inventory import load
from talkdeploy.secrets import SecretError, format_problem, generate, render_file


@pytest.fixture(autouse=True)
def _no_ambient_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_generated_secret_is_64_random_hex_characters() -> None:
    first, second = generate(), generate()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second
    assert format_problem(first) is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("", "empty"), ("ab cd" * 8, "whitespace"), ("g" * 40, "hex"), ("ab" * 8, "fewer than 32")],
)
def test_unusable_secret_is_refused(value: str, fragment: str) -> None:
    with pytest.raises(SecretError, match=fragment):
        render_file(value, None)


def test_generate_without_vault_writes_0600_warns_and_never_prints(tmp_path: Path) -> None:
    root = write_inventory(tmp_path / "inv")
    code, out, err = run("secret", "generate", "-i", str(root))
    assert code == 0, err
    path = root / "group_vars" / "turn_servers" / "secret.yml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    value = load(root).hosts[TURN].inventory["coturn_static_auth_secret"]
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert value not in out + err
    assert "plain text" in err
    code, out, _ = run("secret", "show", "-i", str(root))
    assert code == 0 and value in out


def test_generate_with_vault_encrypts_with_ansible_vault(tmp_path: Path) -> None:
    root = write_inventory(tmp_path / "inv")
    password = tmp_path / "pass"
    password.write_text("s3cret-vault\n")
    code, out, err = run(
        "secret", "generate", "-i", str(root), "--vault-password-file", str(password)
    )
    assert code == 0, err
    text = (root / "group_vars" / "turn_servers" / "secret.yml").read_text()
    assert "$ANSIBLE_VAULT;1.1;AES256" in text
    loaded = load(root, vault_password_file=password)
    value = loaded.hosts[TURN].inventory["coturn_static_auth_secret"]
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert value not in text + out + err
    assert "plain text" not in err


def test_existing_secret_is_not_replaced_without_force(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv", group_vars={"turn_servers": {"coturn_static_auth_secret": GOOD_SECRET}}
    )
    code, _, err = run("secret", "generate", "-i", str(root))
    assert code == 1 and "--force" in err
    assert not (root / "group_vars" / "turn_servers" / "secret.yml").exists()


def test_set_reads_stdin_and_reports_an_overriding_file(tmp_path: Path) -> None:
    other = "cd" * 32
    root = write_inventory(tmp_path / "inv", host_vars={TURN: {"coturn_static_auth_secret": other}})
    code, out, err = run("secret", "set", "-i", str(root), "--force", input=GOOD_SECRET + "\n")
    # host_vars outrank group_vars: the new value does not reach that host, and we say where.
    assert code == 1
    assert f"host_vars/{TURN}.yml" in err
    assert GOOD_SECRET not in out + err
    stored = (root / "group_vars" / "turn_servers" / "secret.yml").read_text()
    assert GOOD_SECRET in stored


def test_set_refuses_a_bad_value(tmp_path: Path) -> None:
    root = write_inventory(tmp_path / "inv")
    code, _, err = run("secret", "set", "-i", str(root), input="not a secret\n")
    assert code == 1 and "whitespace" in err


def test_show_json_and_host_filter(tmp_path: Path) -> None:
    import json

    root = write_inventory(
        tmp_path / "inv",
        groups={"turn_servers": {TURN: None, "t2": None}, "nextcloud": {CLOUD: None}},
        host_vars={TURN: {"coturn_static_auth_secret": GOOD_SECRET}},
    )
    code, out, _ = run("--output", "json", "secret", "show", "-i", str(root), "--host", TURN)
    assert code == 0
    assert json.loads(out)["secrets"][TURN]["secret"] == GOOD_SECRET
    code, out, _ = run("--output", "json", "secret", "show", "-i", str(root))
    assert json.loads(out)["secrets"]["t2"]["secret"] is None


def test_secret_is_never_an_argument() -> None:
    code, out, _ = run("secret", "set", "--help")
    assert code == 0 and "--value" not in out and sys.executable


def test_set_refuses_when_group_vars_turn_servers_is_a_file(tmp_path: Path) -> None:
    root = write_inventory(tmp_path / "inv")
    plain_file = root / "group_vars" / "turn_servers"
    plain_file.parent.mkdir(parents=True)
    plain_file.write_text("coturn_realm: r\n")
    code, _, err = run("secret", "set", "-i", str(root), input=GOOD_SECRET + "\n")
    assert code == 1 and "is a file" in err and "main.yml" in err
    assert plain_file.read_text() == "coturn_realm: r\n"


def test_set_does_not_hide_an_existing_turn_servers_yml(tmp_path: Path) -> None:
    """Ansible reads group_vars/turn_servers/ instead of turn_servers.yml once it exists."""
    root = write_inventory(tmp_path / "inv", group_vars={"turn_servers": {"coturn_realm": "r"}})
    code, _, err = run("secret", "generate", "-i", str(root))
    assert code == 1 and "turn_servers.yml" in err and "would be lost" in err
    assert not (root / "group_vars" / "turn_servers").exists()
    assert load(root).hosts[TURN].inventory["coturn_realm"] == "r"


def test_set_for_a_host_named_like_a_path_writes_nothing_outside(tmp_path: Path) -> None:
    evil = "../../escaped"
    root = write_inventory(
        tmp_path / "inv", groups={"turn_servers": {evil: None}, "nextcloud": {CLOUD: None}}
    )
    code, _, err = run("secret", "generate", "-i", str(root), "--host", evil)
    assert code == 1 and "cannot name a directory" in err
    assert not (tmp_path / "escaped").exists()
    assert [p.name for p in tmp_path.rglob("secret.yml")] == []


def test_set_reports_unreadable_input_and_unwritable_files_cleanly(tmp_path: Path) -> None:
    root = write_inventory(tmp_path / "inv")
    latin1 = tmp_path / "secret.txt"
    latin1.write_bytes(b"caf\xe9" * 10)
    code, _, err = run("secret", "set", "-i", str(root), "--from-file", str(latin1))
    assert code == 1 and "not UTF-8" in err
    (root / "group_vars" / "turn_servers" / "secret.yml").mkdir(parents=True)  # a directory
    code, _, err = run("secret", "set", "-i", str(root), input=GOOD_SECRET + "\n")
    assert code == 1 and "cannot write" in err


def test_show_says_why_a_secret_cannot_be_read(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv",
        group_vars={"turn_servers": {"coturn_static_auth_secret": "{{ lookup('pipe', 'x') }}"}},
    )
    code, _, err = run("secret", "show", "-i", str(root))
    assert code == 1 and "lookup('pipe')" in err and "vault" not in err
