"""Reading an inventory under review runs nothing, hangs nothing and leaks nothing.

`validate`, `render` and `plan` read the inventory on an operator's workstation or in a CI
merge-request job. These tests build hostile inventories in tmp_path and run the real CLI:
in-process through click's CliRunner, or as a subprocess when the test needs a timeout
(a hang fails the test) or everything Ansible's Display writes to the real stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from inventory_factory import CLOUD, GOOD_SECRET, TURN, write_inventory

from talkdeploy.cli import main
from talkdeploy.inventory import InventoryError, load
from talkdeploy.inventory_bounds import MAX_FILE_BYTES, MAX_YAML_NODES

SECRET = "hunter2-" + "ab" * 20  # a value no message may show
HOSTS_YML = f"all:\n  children:\n    turn_servers:\n      hosts:\n        {TURN}:\n"


@pytest.fixture(autouse=True)
def _no_ambient_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def talkdeploy(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process; a run past `timeout` seconds fails the test."""
    return subprocess.run(
        [sys.executable, "-m", "talkdeploy", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def inventory(tmp_path: Path, turn_vars: str, hosts_yml: str = HOSTS_YML) -> Path:
    """hosts.yml plus group_vars/turn_servers.yml written verbatim (templates, tags, aliases)."""
    root = tmp_path / "inv"
    (root / "group_vars").mkdir(parents=True)
    (root / "hosts.yml").write_text(hosts_yml, encoding="utf-8")
    (root / "group_vars" / "turn_servers.yml").write_text(turn_vars, encoding="utf-8")
    return root


def problem_keys(stdout: str) -> dict[str, str]:
    return {p["key"]: p["message"] for p in json.loads(stdout)["problems"]}


# 1. lookups


@pytest.mark.parametrize(
    "template",
    [
        "{{ lookup('pipe', 'touch MARKER') }}",
        "{{ lookup('pi' ~ 'pe', 'touch MARKER') }}",  # a regex over the text would miss it
        "{{ lookup('ansible.builtin.pipe', 'touch MARKER') }}",
        "{{ query('ansible.legacy.pipe', 'touch MARKER') | first }}",
        "{{ q('lines', 'touch MARKER') | first }}",
        "{{ lookup('pipe', 'touch MARKER', errors='ignore') | default('x', true) }}",
    ],
)
def test_a_pipe_lookup_does_not_run_and_the_key_is_reported(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "ran"
    root = inventory(
        tmp_path, yaml.safe_dump({"coturn_realm": template.replace("MARKER", str(marker))})
    )
    for command in ("validate", "render"):
        run("--output", "json", command, "-i", str(root))
        assert not marker.exists(), f"`{command}` ran the lookup"
    code, out, _ = run("--output", "json", "validate", "-i", str(root), "--strict")
    assert code == 1
    reason = problem_keys(out)["coturn_realm"]
    assert "which talkdeploy does not run on the workstation" in reason
    assert "when Ansible applies the roles" in reason


def test_env_lookup_delivers_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALKDEPLOY_TEST_SECRET", GOOD_SECRET)
    monkeypatch.setenv("TALKDEPLOY_TEST_REALM", "realm.example.org")
    root = inventory(
        tmp_path,
        "coturn_static_auth_secret: \"{{ lookup('env', 'TALKDEPLOY_TEST_SECRET') }}\"\n"
        "coturn_realm: \"{{ lookup('ansible.builtin.env', 'TALKDEPLOY_TEST_REALM') }}\"\n",
    )
    host = load(root).hosts[TURN]
    assert host.inventory["coturn_static_auth_secret"] == GOOD_SECRET
    assert host.inventory["coturn_realm"] == "realm.example.org"
    assert host.unresolved == {}


def test_file_lookup_reads_inside_the_inventory_only(tmp_path: Path) -> None:
    outside = tmp_path / "workstation-secret.txt"
    outside.write_text(SECRET, encoding="utf-8")
    root = inventory(
        tmp_path,
        "coturn_realm: \"{{ lookup('file', inventory_dir ~ '/realm.txt') }}\"\n"
        f"coturn_public_name: \"{{{{ lookup('file', '{outside}') }}}}\"\n",
    )
    (root / "realm.txt").write_text("realm.example.org\n", encoding="utf-8")
    host = load(root).hosts[TURN]
    assert host.inventory["coturn_realm"] == "realm.example.org"
    assert "outside the inventory directory" in host.unresolved["coturn_public_name"]
    _, out, err = run("render", "-i", str(root), "--show-secrets")
    assert SECRET not in out + err


def test_password_lookup_writes_no_file_and_include_reads_none(tmp_path: Path) -> None:
    created = tmp_path / "password-file"
    root = inventory(
        tmp_path,
        f"coturn_static_auth_secret: \"{{{{ lookup('password', '{created}') }}}}\"\n"
        "coturn_realm: \"{% include 'hosts.yml' %}\"\n",
    )
    host = load(root).hosts[TURN]
    assert not created.exists()
    assert "lookup('password')" in host.unresolved["coturn_static_auth_secret"]
    assert "{% include %}" in host.unresolved["coturn_realm"]


def test_the_policy_is_lifted_after_loading(tmp_path: Path) -> None:
    from ansible._internal._templating import _jinja_plugins
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import lookup_loader
    from ansible.template import Templar, trust_as_template

    load(inventory(tmp_path, "coturn_realm: \"{{ lookup('pipe', 'echo no') }}\"\n"))
    assert _jinja_plugins.lookup_loader is lookup_loader
    templar = Templar(loader=DataLoader())
    assert templar.template(trust_as_template("{{ lookup('pipe', 'echo yes') }}")) == "yes"


def test_collection_filters_and_tests_do_not_run(tmp_path: Path) -> None:
    """With Ansible's collection loader set up, collection plugins are refused (one uses DNS)."""
    root = inventory(
        tmp_path,
        "coturn_realm: \"{{ 'x' if ('leak.example' is ansible.utils.resolvable) else 'y' }}\"\n"
        "coturn_public_name: \"{{ 'a' | json_query('b') }}\"\n",  # redirected to a collection
    )
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from ansible.plugins.loader import init_plugin_loader\n"
        "init_plugin_loader()\n"
        "from talkdeploy.inventory import load\n"
        "print(json.dumps(load(Path(sys.argv[1])).hosts[sys.argv[2]].unresolved))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(root), TURN],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    unresolved = json.loads(done.stdout)
    assert "'ansible.utils.resolvable' from a collection" in unresolved["coturn_realm"]
    assert "'community.general.json_query' from a collection" in unresolved["coturn_public_name"]


def test_an_executable_file_in_the_inventory_is_not_run(tmp_path: Path) -> None:
    """Ansible's `script` inventory plugin would run it with --list."""
    root = write_inventory(tmp_path / "inv")
    marker = tmp_path / "ran"
    script = root / "dynamic.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho '{{}}'\n", encoding="utf-8")
    script.chmod(0o755)
    done = talkdeploy("validate", "-i", str(root), cwd=tmp_path)
    assert not marker.exists()
    assert "Traceback" not in done.stderr


# 2. bounded files


def alias_bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    lines.append(f"coturn_extra_options: {{bomb: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_in_group_vars_is_refused_quickly(tmp_path: Path) -> None:
    root = inventory(tmp_path, alias_bomb())
    done = talkdeploy("validate", "-i", str(root), cwd=tmp_path)  # minutes without the bound
    assert done.returncode == 1
    assert "group_vars/turn_servers.yml" in done.stderr
    assert f"more than {MAX_YAML_NODES} YAML values" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_alias_bomb_in_a_vault_encrypted_file_is_refused(tmp_path: Path) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    root = inventory(tmp_path, "coturn_realm: r\n")
    password = tmp_path / "vault-pass"
    password.write_text("pw\n", encoding="utf-8")
    secret = VaultSecret(b"pw")
    encrypted = VaultLib([("default", secret)]).encrypt(alias_bomb(), secret=secret)
    (root / "group_vars" / "turn_servers.yml").write_bytes(encrypted)
    done = talkdeploy(
        "validate", "-i", str(root), "--vault-password-file", str(password), cwd=tmp_path
    )
    assert done.returncode == 1 and "MAX_YAML_NODES" in done.stderr


def test_a_bomb_reached_through_a_host_name_is_refused(tmp_path: Path) -> None:
    """host_vars/<host> for a host named ../outside/x is a file outside host_vars/."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.yml").write_text(alias_bomb(), encoding="utf-8")
    hosts = HOSTS_YML + '        "../../outside/x":\n'
    root = inventory(tmp_path, "coturn_realm: r\n", hosts_yml=hosts)
    (root / "host_vars").mkdir()
    done = talkdeploy("validate", "-i", str(root), cwd=tmp_path)
    assert (
        done.returncode == 1 and "outside/x.yml" in done.stderr and "MAX_YAML_NODES" in done.stderr
    )


def test_anchors_and_ansible_tags_under_the_limit_load(tmp_path: Path) -> None:
    from ansible.parsing.vault import VaultLib, VaultSecret

    password = tmp_path / "vault-pass"
    password.write_text("pw\n", encoding="utf-8")
    secret = VaultSecret(b"pw")
    block = VaultLib([("default", secret)]).encrypt(GOOD_SECRET, secret=secret).decode()
    indented = "".join(f"  {line}\n" for line in block.splitlines())
    root = inventory(
        tmp_path,
        "ports: &ports [3478, 3479]\n"
        "coturn_extra_options: {listening-ips: *ports}\n"
        "coturn_realm: !unsafe 'realm-{{ not-a-template }}'\n"
        f"coturn_static_auth_secret: !vault |\n{indented}",
    )
    host = load(root, vault_password_file=password).hosts[TURN]
    assert host.inventory["coturn_static_auth_secret"] == GOOD_SECRET
    assert host.inventory["coturn_realm"] == "realm-{{ not-a-template }}"
    assert host.inventory["coturn_extra_options"] == {"listening-ips": [3478, 3479]}


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    root = inventory(tmp_path, "coturn_extra_options: &loop {again: *loop}\n")
    with pytest.raises(InventoryError, match="MAX_YAML_NODES"):
        load(root)


def test_a_huge_file_is_refused_by_size(tmp_path: Path) -> None:
    root = inventory(tmp_path, "coturn_realm: " + "a" * (MAX_FILE_BYTES + 1) + "\n")
    with pytest.raises(InventoryError, match=r"turn_servers\.yml has \d+ bytes.*1 MiB"):
        load(root)


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_file_that_would_block_is_refused(tmp_path: Path, kind: str) -> None:
    root = inventory(tmp_path, "")
    target = root / "group_vars" / "turn_servers.yml"
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")
    done = talkdeploy("validate", "-i", str(root), cwd=tmp_path)  # blocks without the bound
    assert done.returncode == 1 and "is not a regular file" in done.stderr


# 3. Ansible's messages never quote the inventory


def test_duplicate_key_warning_names_key_and_line_not_the_secret(tmp_path: Path) -> None:
    root = inventory(
        tmp_path, f"coturn_static_auth_secret: {SECRET}\ncoturn_static_auth_secret: {SECRET}x\n"
    )
    done = talkdeploy("validate", "-i", str(root), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert SECRET not in output
    assert "duplicate key 'coturn_static_auth_secret'" in output
    assert "group_vars/turn_servers.yml:2:1" in output


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("group_vars", f'coturn_realm: r\ncoturn_static_auth_secret: "{SECRET}" oops\n'),
        ("group_vars", f"coturn_static_auth_secret: {SECRET}\n  bad: [x: {SECRET}\n"),
        (
            "hosts",
            HOSTS_YML + f'          coturn_static_auth_secret: "{SECRET}" x\n    nextcloud:\n',
        ),
        ("ini", f"[turn_servers]\n{TURN} coturn_static_auth_secret:{SECRET}\n[x:\n"),
    ],
    ids=["group-vars-quote", "group-vars-flow", "hosts-yml", "hosts-ini"],
)
def test_syntax_error_names_file_and_line_and_how_to_find_it(
    tmp_path: Path, file: str, text: str
) -> None:
    root = inventory(tmp_path, "coturn_realm: r\n")
    if file == "group_vars":
        (root / "group_vars" / "turn_servers.yml").write_text(text, encoding="utf-8")
    else:
        (root / "hosts.yml").unlink()
        (root / ("hosts.yml" if file == "hosts" else "hosts")).write_text(text, encoding="utf-8")
    done = talkdeploy("validate", "-i", str(root), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert SECRET not in output
    assert "Traceback" not in output
    if file != "ini":  # the ini plugin gives no line: its own messages quote the line instead
        assert "yamllint" in output and "ansible-inventory -i" in output
        assert ("turn_servers.yml:" if file == "group_vars" else "hosts.yml:") in output


def test_a_non_utf8_vars_file_is_a_clean_error(tmp_path: Path) -> None:
    root = inventory(tmp_path, "")
    (root / "group_vars" / "turn_servers.yml").write_bytes(
        b"coturn_realm: caf\xe9 " + SECRET.encode() + b"\n"
    )
    done = talkdeploy("validate", "-i", str(root), cwd=tmp_path)
    assert done.returncode == 1
    assert "not UTF-8" in done.stderr and "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr


# 4. render --output-dir stays inside DIR


@pytest.mark.parametrize("host", ["../../x", "a/b", ".hidden", "..", "bad\\u001bname", "nl\\nx"])
def test_render_refuses_a_host_name_that_is_not_a_file_name(tmp_path: Path, host: str) -> None:
    hosts = (
        f'all:\n  children:\n    turn_servers:\n      hosts:\n        "{host}":\n'
        f"    nextcloud:\n      hosts:\n        {CLOUD}:\n"
    )
    root = inventory(
        tmp_path, f"coturn_public_name: {TURN}\ncoturn_realm: {TURN}\n", hosts_yml=hosts
    )
    out_dir = tmp_path / "review" / "deep"
    code, _, err = run("render", "-i", str(root), "--output-dir", str(out_dir))
    assert code == 1 and "nothing was written" in err and "rename the host" in err
    assert [
        p for p in tmp_path.rglob("*") if p.name in ("turnserver.conf", "talk-settings.json")
    ] == []


def test_render_does_not_follow_a_symlink_out_of_the_output_dir(tmp_path: Path) -> None:
    root = write_inventory(tmp_path / "inv")
    out_dir, elsewhere = tmp_path / "review", tmp_path / "elsewhere"
    out_dir.mkdir()
    elsewhere.mkdir()
    (out_dir / TURN).symlink_to(elsewhere)
    code, _, err = run("render", "-i", str(root), "--output-dir", str(out_dir))
    assert code == 1 and "outside" in err
    assert list(elsewhere.iterdir()) == [] and not (out_dir / CLOUD).exists()


def test_render_reports_an_unwritable_target_without_a_traceback(tmp_path: Path) -> None:
    root = write_inventory(tmp_path / "inv")
    out_dir = tmp_path / "review"
    out_dir.mkdir()
    (out_dir / TURN).write_text("a file where a directory belongs", encoding="utf-8")
    code, _, err = run("render", "-i", str(root), "--output-dir", str(out_dir))
    assert code == 1 and "cannot write" in err and "Traceback" not in err
