"""`talkdeploy render` and `validate` on the command line: secrets, hosts, exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner
from inventory_factory import CLOUD, GOOD_SECRET, TURN, write_inventory

from talkdeploy.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _inventory(tmp_path: Path) -> Path:
    return write_inventory(
        tmp_path / "inv",
        group_vars={
            "turn_servers": {"coturn_static_auth_secret": GOOD_SECRET},
            "nextcloud": {
                "talk_signaling_servers": [{"server": "https://hpb.example.org"}],
                "talk_signaling_secret": "signal-" + GOOD_SECRET,
            },
        },
    )


def test_render_masks_every_secret_unless_asked(tmp_path: Path) -> None:
    root = _inventory(tmp_path)
    code, out, err = run("render", "-i", str(root))
    assert code == 0, err
    assert GOOD_SECRET not in out + err
    assert "static-auth-secret=********" in out
    assert '"secret": "********"' in out
    assert "coturn 4.6.1" in out  # says which version it rendered for
    code, out, _ = run("--output", "json", "render", "-i", str(root), "--show-secrets")
    data = json.loads(out)
    assert f"static-auth-secret={GOOD_SECRET}\n" in data["turnserver_conf"][TURN]
    talk = data["talk_settings"][CLOUD]
    assert talk["turn_servers"][0]["secret"] == GOOD_SECRET
    assert talk["signaling_servers"]["secret"] == "signal-" + GOOD_SECRET


def test_render_one_host_and_files_with_secrets_are_private(tmp_path: Path) -> None:
    root = _inventory(tmp_path)
    out_dir = tmp_path / "review"
    code, out, err = run(
        "--output",
        "json",
        "render",
        "-i",
        str(root),
        "--host",
        TURN,
        "--show-secrets",
        "--output-dir",
        str(out_dir),
    )
    assert code == 0, err
    data = json.loads(out)
    assert list(data["turnserver_conf"]) == [TURN] and data["talk_settings"] == {}
    written = out_dir / TURN / "turnserver.conf"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    code, _, err = run("render", "-i", str(root), "--host", "nope.example.org")
    assert code == 1 and "nope.example.org" in err


def test_validate_exit_codes_and_json_problems(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv",
        group_vars={
            "turn_servers": {
                "coturn_min_port": 60000,
                "coturn_max_port": 50000,
                "coturn_no_udp": True,
            }
        },
    )
    code, out, _ = run("--output", "json", "validate", "-i", str(root))
    assert code == 1
    data = json.loads(out)
    assert not data["ok"] and data["errors"] == 1 and data["warnings"] == 1
    problem = next(p for p in data["problems"] if p["severity"] == "error")
    assert set(problem) == {"file", "key", "message", "fix", "severity", "host"}
    assert problem["key"] == "coturn_min_port"
    assert problem["file"].endswith("group_vars/turn_servers.yml:1")

    warn_only = write_inventory(
        tmp_path / "warn", group_vars={"turn_servers": {"coturn_no_udp": True}}
    )
    assert run("validate", "-i", str(warn_only))[0] == 0
    assert run("validate", "-i", str(warn_only), "--strict")[0] == 1


def test_validate_text_names_file_key_and_fix(tmp_path: Path) -> None:
    root = write_inventory(
        tmp_path / "inv", group_vars={"turn_servers": {"coturn_listen_port": 3478}}
    )
    code, out, _ = run("--no-color", "validate", "-i", str(root))
    assert code == 1
    assert "error" in out and "group_vars/turn_servers.yml:1" in out
    assert "coturn_listen_port" in out and "fix: did you mean coturn_listening_port?" in out
    assert "0 warning(s)" in out and "1 error(s)" in out
