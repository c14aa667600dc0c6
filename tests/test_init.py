"""`talkdeploy init` -> `validate` -> `render`: a new inventory is clean and renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from inventory_factory import ROOT

from talkdeploy.cli import main
from talkdeploy.scaffold import NEXTCLOUD_VARIABLES, TURN_VARIABLES, Answers, scaffold
from talkdeploy.specs import load_role_specs, variable_specs

OPTIONS = [
    "--turn-domain",
    "turn.example.org",
    "--nextcloud-host",
    "cloud.example.org",
    "--nextcloud-install",
    "bare",
]


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_init_validate_render_round_trip(tmp_path: Path) -> None:
    directory = tmp_path / "inv"
    code, out, err = run("init", str(directory), *OPTIONS)
    assert code == 0, err
    for name in ("hosts.yml", "group_vars/turn_servers/main.yml", "group_vars/nextcloud/main.yml"):
        assert (directory / name).is_file(), name

    code, out, err = run("--output", "json", "validate", "-i", str(directory))
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] and result["problems"] == []
    assert result["turn_servers"] == ["turn.example.org"]
    assert result["nextcloud_hosts"] == ["cloud.example.org"]

    code, out, err = run("--output", "json", "render", "-i", str(directory))
    assert code == 0, err
    rendered = json.loads(out)
    conf = rendered["turnserver_conf"]["turn.example.org"]
    assert "listening-port=443\n" in conf and "realm=turn.example.org\n" in conf
    talk = rendered["talk_settings"]["cloud.example.org"]
    assert talk["turn_servers"][0]["server"] == "turn.example.org:443"
    assert talk["stun_servers"][0] == "turn.example.org:443"

    out_dir = tmp_path / "review"
    code, _, err = run("render", "-i", str(directory), "--output-dir", str(out_dir))
    assert code == 0, err
    assert (out_dir / "turn.example.org" / "turnserver.conf").read_text() == conf


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    directory = tmp_path / "inv"
    assert run("init", str(directory), *OPTIONS)[0] == 0
    hosts = directory / "hosts.yml"
    hosts.write_text("# my edits\n")
    code, _, err = run("init", str(directory), *OPTIONS)
    assert code == 1 and "--force" in err
    assert hosts.read_text() == "# my edits\n"
    assert run("init", str(directory), *OPTIONS, "--force")[0] == 0
    assert "turn.example.org" in hosts.read_text()


def test_init_without_terminal_needs_its_options(tmp_path: Path) -> None:
    code, _, err = run("init", str(tmp_path / "inv"), "--turn-domain", "turn.example.org")
    assert code == 1 and "--nextcloud-host" in err  # a user error: 1 (2 means a host failed)
    assert not (tmp_path / "inv").exists()


def test_init_rejects_a_bad_host_name(tmp_path: Path) -> None:
    code, _, err = run(
        "init", str(tmp_path / "inv"), *OPTIONS[2:], "--turn-domain", "turns://x.example.org"
    )
    assert code == 1 and "not a host name" in err


def test_turn_server_on_the_nextcloud_host_gets_ports_the_web_server_leaves_free(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "inv"
    code, _, err = run(
        "init",
        str(directory),
        "--turn-domain",
        "cloud.example.org",
        "--nextcloud-host",
        "cloud.example.org",
        "--nextcloud-install",
        "docker",
        "--docker-container",
        "nc-app",
    )
    assert code == 0, err
    code, out, _ = run("--output", "json", "validate", "-i", str(directory))
    assert code == 0, out
    turn_vars = (directory / "group_vars" / "turn_servers" / "main.yml").read_text()
    assert "\ncoturn_listening_port: 3478\n" in turn_vars
    nextcloud_vars = (directory / "group_vars" / "nextcloud" / "main.yml").read_text()
    assert "\ntalk_nextcloud_install: docker\n" in nextcloud_vars
    assert "\ntalk_docker_container: nc-app\n" in nextcloud_vars


def test_every_documented_variable_is_a_real_role_variable() -> None:
    known = variable_specs(load_role_specs(ROOT / "roles"))
    missing = [name for name in (*TURN_VARIABLES, *NEXTCLOUD_VARIABLES) if name not in known]
    assert missing == []


def test_example_inventory_is_what_init_writes() -> None:
    files = scaffold(
        Answers("turn.example.org", "cloud.example.org", "bare"), directory="inventories/example"
    )
    for name, text in files.items():
        assert (ROOT / "inventories" / "example" / name).read_text() == text, (
            f"inventories/example/{name} is stale: regenerate it with `talkdeploy init "
            "inventories/example --force --turn-domain turn.example.org --nextcloud-host "
            "cloud.example.org --nextcloud-install bare`"
        )


@pytest.mark.parametrize("kind", ["bare", "docker", "aio", "snap"])
def test_each_install_kind_validates_clean(tmp_path: Path, kind: str) -> None:
    directory = tmp_path / kind
    options = [*OPTIONS[:4], "--nextcloud-install", kind]
    assert run("init", str(directory), *options)[0] == 0
    code, out, _ = run("validate", "-i", str(directory))
    assert code == 0, out


def test_init_on_a_terminal_asks_for_the_missing_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("talkdeploy.commands.init._interactive", lambda: True)
    directory = tmp_path / "inv"
    # a bad name is asked again; the install kind defaults to bare
    answers = "not a name!\nturn.example.org\ncloud.example.org\n\n"
    code, out, err = run("init", str(directory), input=answers)
    assert code == 0, out + err
    assert "is not a host name" in err
    assert "turn.example.org:" in (directory / "hosts.yml").read_text()
    nextcloud_vars = (directory / "group_vars" / "nextcloud" / "main.yml").read_text()
    assert "\ntalk_nextcloud_install: bare\n" in nextcloud_vars
