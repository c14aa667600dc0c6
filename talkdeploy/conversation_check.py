"""`talkdeploy verify --talk-conversation USER`: Talk's app and database work, through occ.

On every Nextcloud host, the verify playbook's `talk_conversation` play
(roles/nextcloud_talk/tasks/conversation.yml) creates a throwaway conversation owned by USER,
adds the second user when one is given, reads it back and deletes it, whatever failed before.
It never creates users. Each step comes back as one Check named "conversation ...", read from
the host's report, a 0600 JSON file in a private directory, as host_reports.read_hosts does.

What it proves: Talk's app answers, its database takes a conversation and gives it back. What
it cannot prove: that media flows; only a browser relaying through TURN does (the relay test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkdeploy.errors import UserError
from talkdeploy.host_reports import run_verify_playbook
from talkdeploy.probe import Check

if TYPE_CHECKING:
    from talkdeploy.run_result import Masker, RunResult
    from talkdeploy.runner import RunOptions

TAG = "talk_conversation"


def checked_users(user: str | None, peer: str | None) -> tuple[str, str] | None:
    """The owner and the optional second user, checked as the role checks them (None: the
    check was not asked for). Invalid input is a UserError, before any host is touched."""
    from talkdeploy.shared import enable

    enable()  # the collection's module_utils, on the path
    from ansible_collections.talkdeploy.talk.plugins.module_utils import talk
    from ansible_collections.talkdeploy.talk.plugins.module_utils.values import Invalid

    if user is None and peer is None:
        return None
    if user is None:
        raise UserError(
            "--talk-conversation-peer needs --talk-conversation",
            fix="add --talk-conversation USER, the existing user who owns the conversation",
        )
    checked = []
    for option, value in (("--talk-conversation", user), ("--talk-conversation-peer", peer)):
        if value is None:
            checked.append("")
            continue
        try:
            checked.append(talk.user_id(value))
        except Invalid as invalid:
            raise UserError(f"{option} {invalid.problem}", fix=invalid.fix) from None
    if checked[1] and checked[1] == checked[0]:
        raise UserError(
            "--talk-conversation-peer is the owner given to --talk-conversation",
            fix="give a second, existing user, or leave --talk-conversation-peer out",
        )
    return checked[0], checked[1]


def checks_from_report(data: dict[str, Any]) -> list[Check]:
    """One Check per step the host reported (tasks/conversation.yml judged them)."""
    host = str(data.get("host", "-"))
    return [
        Check(
            host,
            str(step.get("name", "conversation")),
            bool(step.get("ok")),
            float(step.get("seconds") or 0.0),
            str(step.get("detail", "")),
        )
        for step in data.get("steps") or []
    ]


def checks_from_run(
    hosts: list[str], reports: dict[str, dict[str, Any]], run: RunResult
) -> list[Check]:
    """The reported steps of each host; a host without a report says why (its failure)."""
    checks: list[Check] = []
    for host in hosts:
        if host in reports:
            checks += checks_from_report(reports[host])
            continue
        failures = [f for f in run.failures if f.get("host") == host]
        if failures:
            reason = "; ".join(f"{f['task']}: {f['msg']}" for f in failures)
        elif run.exit_code == 1:
            reason = run.log_tail or "ansible-playbook refused to run"
        else:
            reason = "not run on this host (--limit?)"
        checks.append(Check(host, "conversation check", False, 0.0, reason[:500]))
    return checks


def read_conversation_reports(directory: Path) -> dict[str, dict[str, Any]]:
    """Each host's conversation report, by host name."""
    reports = {}
    for path in sorted(directory.glob("conversation-*.json")):
        data = json.loads(path.read_text())
        if data.get("kind") == "conversation":
            reports[str(data.get("host"))] = data
    return reports


def conversation_checks(
    options: RunOptions, masker: Masker, hosts: list[str], user: str, peer: str
) -> list[Check]:
    """Run the verify playbook's conversation play on `hosts` and judge what each reported."""
    variables = {"talkdeploy_conversation_user": user, "talkdeploy_conversation_peer": peer}
    run, reports = run_verify_playbook(
        options, masker, variables, read_conversation_reports, tags=TAG
    )
    return checks_from_run(hosts, reports, run)
