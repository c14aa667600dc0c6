"""`talkdeploy verify --talk-conversation`: the users are checked before any host is touched, and
each host's report becomes one check per step (talkdeploy/conversation_check.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from talkdeploy.cli import main
from talkdeploy.conversation_check import checked_users, checks_from_run
from talkdeploy.errors import UserError
from talkdeploy.run_result import RunResult


def test_no_option_means_no_check() -> None:
    assert checked_users(None, None) is None


def test_owner_and_peer_are_checked_as_nextcloud_user_ids() -> None:
    assert checked_users("alice", None) == ("alice", "")
    assert checked_users("alice", "bob@example.org") == ("alice", "bob@example.org")


@pytest.mark.parametrize(
    ("user", "peer", "words"),
    [
        (None, "bob", "needs --talk-conversation"),
        ("alice\n", None, "--talk-conversation contains a control character"),
        ("alice", "--group=admin;x", "--talk-conversation-peer is '--group=admin;x'"),
        ("alice", "alice", "is the owner"),
    ],
)
def test_bad_users_are_refused(user: str | None, peer: str | None, words: str) -> None:
    with pytest.raises(UserError) as refused:
        checked_users(user, peer)
    assert words in str(refused.value)


def test_the_cli_refuses_a_bad_user_with_exit_1_before_reading_the_inventory(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(
        main,
        ["--output", "json", "verify", "-i", str(tmp_path), "--talk-conversation", "a;b"],
    )
    assert result.exit_code == 1, result.output
    assert "--talk-conversation is 'a;b', not a Nextcloud user id" in result.output


def report(host: str, *oks: bool) -> dict[str, object]:
    names = ["conversation created", "conversation read back", "conversation deleted"]
    return {
        "kind": "conversation",
        "host": host,
        "steps": [
            {"name": n, "ok": ok, "detail": "d", "seconds": 0.5}
            for n, ok in zip(names, oks, strict=True)
        ],
    }


def test_each_reported_step_is_a_check_and_a_host_without_report_says_why() -> None:
    run = RunResult(returncode=2, stats_seen=True)
    run.failures.append(
        {"host": "nc2", "task": "Occ command is known", "status": "failed", "msg": "no occ"}
    )
    checks = checks_from_run(["nc1", "nc2"], {"nc1": report("nc1", True, False, True)}, run)
    assert [(c.host, c.name, c.ok) for c in checks] == [
        ("nc1", "conversation created", True),
        ("nc1", "conversation read back", False),
        ("nc1", "conversation deleted", True),
        ("nc2", "conversation check", False),
    ]
    assert checks[-1].detail == "Occ command is known: no occ"
    assert json.dumps([c.as_dict() for c in checks])  # verify's JSON output
