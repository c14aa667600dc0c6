"""Every command's error path: a user error exits 1, its message goes to stderr, and under
`--output json` stdout is one JSON document `{"ok": false, "error": {...}}`.

Nothing here reaches a host, Docker or the network: each error is raised while parsing the
command line, or by a talkdeploy check before any host is contacted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from inventory_factory import GOOD_SECRET, write_inventory

from talkdeploy.cli import main
from talkdeploy.errors import ExitCode, UserError, exit_code_for

MISSING = "/nonexistent/inventory"

# Variables that would change what a command reads: each test sets its own.
AMBIENT = ("TALKDEPLOY_OUTPUT", "TALKDEPLOY_INVENTORY", "ANSIBLE_VAULT_PASSWORD_FILE", "NO_COLOR")


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    # click >= 8.2 keeps stderr apart by default (Result.stdout / Result.stderr; the
    # `mix_stderr` argument is gone): click's docs/testing.md.
    runner = CliRunner(env=dict.fromkeys(AMBIENT))
    result = runner.invoke(
        main, list(args), input=input, prog_name="talkdeploy", catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def json_error(out: str) -> dict[str, Any]:
    document = json.loads(out)
    assert document["ok"] is False
    error: dict[str, Any] = document["error"]
    assert set(error) == {"message", "fix", "exit_code"}
    return error


# (argv, a fragment of the message): one user error or more per command.
USER_ERRORS = [
    pytest.param(["init", "DIR", "--turn-domain", "turn.example.org"], "--nextcloud-host",
                 id="init-missing-option-off-terminal"),
    pytest.param(["init", "DIR", "--turn-domain", "turns://x"], "not a host name",
                 id="init-bad-host-name"),
    pytest.param(["init", "DIR", "--nextcloud-install", "kubernetes"], "kubernetes",
                 id="init-bad-choice"),
    pytest.param(["validate", "-i", MISSING], "does not exist", id="validate-missing-path"),
    pytest.param(["validate"], "--inventory", id="validate-missing-option"),
    pytest.param(["render", "-i", MISSING], "does not exist", id="render-missing-path"),
    pytest.param(["plan", "-i", MISSING], "does not exist", id="plan-missing-path"),
    pytest.param(["plan", "-i", "INV", "--connection", "telnet"], "telnet",
                 id="plan-bad-choice"),
    pytest.param(["apply", "-i", MISSING, "--yes"], "does not exist", id="apply-missing-path"),
    pytest.param(["apply", "--yes"], "--inventory", id="apply-missing-option"),
    pytest.param(["apply", "-i", "INV"], "not a terminal", id="apply-no-terminal-no-yes"),
    pytest.param(["verify", "-i", MISSING], "does not exist", id="verify-missing-path"),
    pytest.param(["verify", "-i", "INV", "--timeout", "soon"], "soon", id="verify-bad-float"),
    pytest.param(["verify", "-i", "INV", "--from-host", "nope.example.org"], "nope.example.org",
                 id="verify-unknown-from-host"),
    pytest.param(["status", "-i", MISSING], "does not exist", id="status-missing-path"),
    pytest.param(["status", "-i", "INV", "--bogus"], "--bogus", id="status-unknown-option"),
    pytest.param(["secret", "show", "-i", MISSING], "does not exist", id="secret-show"),
    pytest.param(["secret", "set", "-i", MISSING], "does not exist", id="secret-set"),
    pytest.param(["secret", "generate"], "--inventory", id="secret-generate-missing-option"),
    pytest.param(["secret", "rotate"], "rotate", id="secret-unknown-subcommand"),
    pytest.param(["paths", "--bogus"], "--bogus", id="paths-unknown-option"),
    pytest.param(["lab", "up", "--distro", "fedora"], "fedora", id="lab-up-bad-choice"),
    pytest.param(["lab", "status", "--bogus"], "--bogus", id="lab-status-unknown-option"),
    pytest.param(["lab", "explode"], "explode", id="lab-unknown-subcommand"),
    pytest.param(["--bogus", "validate"], "--bogus", id="global-unknown-option"),
]  # fmt: skip


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    """A valid inventory (commands get past validation and stop at the error under test)."""
    return write_inventory(
        tmp_path / "inv", group_vars={"turn_servers": {"coturn_static_auth_secret": GOOD_SECRET}}
    )


def _argv(argv: list[str], tmp_path: Path, inventory: Path) -> list[str]:
    names = {"DIR": str(tmp_path / "new"), "INV": str(inventory)}
    return [names.get(word, word) for word in argv]


@pytest.mark.parametrize(("argv", "fragment"), USER_ERRORS)
def test_a_user_error_exits_1_with_the_message_on_stderr(
    argv: list[str], fragment: str, tmp_path: Path, inventory: Path
) -> None:
    code, out, err = run(*_argv(argv, tmp_path, inventory))
    assert code == ExitCode.USER_ERROR, out + err
    assert "Error: " in err and fragment in err
    assert out == ""
    assert not (tmp_path / "new").exists()  # init wrote nothing


@pytest.mark.parametrize(("argv", "fragment"), USER_ERRORS)
def test_a_user_error_under_output_json_is_a_json_document_on_stdout(
    argv: list[str], fragment: str, tmp_path: Path, inventory: Path
) -> None:
    code, out, err = run("--output", "json", *_argv(argv, tmp_path, inventory))
    assert code == ExitCode.USER_ERROR, out + err
    error = json_error(out)
    assert fragment in error["message"]
    assert error["exit_code"] == ExitCode.USER_ERROR
    assert fragment in err  # and the people reading the log still see it


def test_a_bad_output_format_is_a_user_error() -> None:
    code, out, err = run("--output", "yaml", "validate")
    assert (code, out) == (1, "")
    assert "'yaml' is not one of 'text', 'json'" in err


def test_a_usage_error_names_the_help_as_the_fix() -> None:
    code, out, _ = run("--output", "json", "apply", "-i", MISSING)
    assert code == 1
    assert json_error(out)["fix"] == "run 'talkdeploy apply --help'"


def test_the_output_format_also_comes_from_the_environment() -> None:
    result = CliRunner(env={**dict.fromkeys(AMBIENT), "TALKDEPLOY_OUTPUT": "json"}).invoke(
        main, ["validate", "-i", MISSING], prog_name="talkdeploy", catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "does not exist" in json_error(result.stdout)["message"]


def test_an_invalid_inventory_keeps_its_problem_report(tmp_path: Path) -> None:
    """Not an error document: validate's own result, which lists every problem."""
    inventory = write_inventory(
        tmp_path / "inv", group_vars={"turn_servers": {"coturn_listening_port": 70000}}
    )
    code, out, _ = run("--output", "json", "plan", "-i", str(inventory))
    assert code == 1
    data = json.loads(out)
    assert data["stage"] == "validate" and data["problems"]


# --help, --version and no command at all print what they printed before and exit 0.


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["apply", "--help"], ["secret", "-h"]])
def test_help_exits_0(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 0, err
    assert out.startswith("Usage: talkdeploy") and err == ""


def test_version_exits_0() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("talkdeploy, version ")


@pytest.mark.parametrize("argv", [[], ["lab"], ["secret"]])
def test_no_command_prints_the_help(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 0, err
    assert out == run(*argv, "--help")[1]
    assert "Commands:" in out


def test_no_command_under_output_json_is_an_error_document() -> None:
    code, out, _ = run("--output", "json", "lab")
    assert code == 1
    assert json_error(out)["message"] == "missing command"


# Errors raised inside a command: ClickException, talkdeploy's UserError, Abort, OSError,
# and an exception nobody expected. `paths` is the command forced to raise.


def _paths_raises(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def locate() -> None:
        raise error

    monkeypatch.setattr("talkdeploy.resources.locate", locate)


def test_a_click_exception_in_a_command_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    _paths_raises(monkeypatch, click.ClickException("the collection is gone"))
    code, out, err = run("paths")
    assert (code, out) == (1, "")
    assert err == "Error: the collection is gone\n"


def test_a_usage_error_in_a_command_exits_1_not_2(monkeypatch: pytest.MonkeyPatch) -> None:
    _paths_raises(monkeypatch, click.UsageError("wrong"))
    assert run("paths")[0] == 1


def test_a_user_error_shows_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    _paths_raises(monkeypatch, UserError("the collection is gone", fix="run `make setup`"))
    code, _, err = run("paths")
    assert code == 1
    assert err == "Error: the collection is gone\nfix: run `make setup`\n"
    code, out, _ = run("--output", "json", "paths")
    assert json_error(out) == {
        "message": "the collection is gone",
        "fix": "run `make setup`",
        "exit_code": 1,
    }


def test_an_abort_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    _paths_raises(monkeypatch, click.Abort())
    code, _, err = run("paths")
    assert code == 1 and "Aborted!" in err


def test_a_file_system_error_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _paths_raises(monkeypatch, PermissionError(13, "Permission denied", "/etc/x"))
    code, out, err = run("--output", "json", "paths")
    assert code == 1
    assert "Permission denied: '/etc/x'" in json_error(out)["message"]
    assert "Traceback" not in err


def test_an_unexpected_error_is_one_line_and_points_at_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _paths_raises(monkeypatch, RuntimeError("boom\nsecond line"))
    code, out, err = run("paths")
    assert code != 0 and out == ""
    assert err.splitlines() == [
        "Error: unexpected error (RuntimeError: boom); run with --debug for the traceback"
    ]


def test_an_unexpected_error_under_output_json_is_a_json_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _paths_raises(monkeypatch, RuntimeError("boom"))
    code, out, err = run("--output", "json", "paths")
    assert code != 0
    error = json_error(out)
    assert error["message"] == "unexpected error (RuntimeError: boom)"
    assert error["fix"] == "run with --debug for the traceback"
    assert error["exit_code"] == code
    assert "Traceback" not in err


@pytest.mark.parametrize("output", ["text", "json"])
def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, output: str) -> None:
    _paths_raises(monkeypatch, RuntimeError("boom"))
    code, out, err = run("--debug", "--output", output, "paths")
    assert code != 0
    assert "Traceback (most recent call last):" in err
    assert "RuntimeError: boom" in err
    assert "run with --debug" not in err
    if output == "json":
        assert json_error(out)["fix"] is None


def test_exit_codes_are_the_documented_ones() -> None:
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3]
    assert exit_code_for(click.BadParameter("x")) == 1
    assert exit_code_for(click.exceptions.NoSuchOption("--x")) == 1
    assert exit_code_for(click.MissingParameter()) == 1
    assert exit_code_for(click.ClickException("x")) == 1
    assert exit_code_for(UserError("x")) == 1
    assert exit_code_for(click.Abort()) == 1


def test_the_installed_entry_point_reports_the_same_way() -> None:
    """`python -m talkdeploy` runs cli.main as the console script does: through sys.exit."""
    run = subprocess.run(
        [sys.executable, "-m", "talkdeploy", "--output", "json", "apply", "-i", MISSING],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in AMBIENT},
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 1, run.stderr
    assert "does not exist" in json_error(run.stdout)["message"]
