"""The Reporter's text width: whole lines without a terminal, the terminal's width on one."""

from __future__ import annotations

import io
import re
import sys
from typing import Any

import pytest

from talkdeploy.commands.verify import draw_checks
from talkdeploy.report import Reporter

# Longer than 80 columns, with a word no column can wrap.
DETAIL = (
    "turnserver answered 203.0.113.10:3478 with error 401 Unauthorized for the credential made "
    "from /etc/turnserver.conf:static-auth-secret; "
    "nextcloud-talk-signaling-and-turn-settings-read-from-occ-config:list-spreed-were-compared"
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _verify_text(monkeypatch: pytest.MonkeyPatch, stdout: io.StringIO) -> str:
    monkeypatch.setattr(sys, "stdout", stdout)
    checks: list[dict[str, Any]] = [
        {"host": "turn1", "name": "TURN allocation", "ok": False, "seconds": 0.25, "detail": DETAIL}
    ]
    Reporter(color=False).result({"checks": checks}, lambda console: draw_checks(console, checks))
    return re.sub(r"\x1b\[[0-9;]*m", "", stdout.getvalue())  # a terminal gets bold headers


def test_without_a_terminal_verify_prints_the_whole_detail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    text = _verify_text(monkeypatch, io.StringIO())
    assert any(DETAIL in line for line in text.splitlines())  # on one line, whole
    assert "…" not in text


def test_on_a_terminal_the_detail_wraps_to_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    text = _verify_text(monkeypatch, Terminal())
    assert DETAIL not in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "turnserver answered" in text


def test_an_explicit_columns_still_sets_the_width_without_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    assert Reporter().console.width == 90
