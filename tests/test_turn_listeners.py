"""Which listening sockets `status` counts as coturn's, from the `ss -p` lines of a host."""

from __future__ import annotations

from talkdeploy.host_reports import parse_turn

SSHD_NAMED = 'socket=tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=81,fd=3))'
COTURN_UNNAMED = (
    "socket=udp UNCONN 0 0 172.17.0.2:443 0.0.0.0:*\nsocket=tcp LISTEN 0 5 172.17.0.2:443 0.0.0.0:*"
)


def test_coturns_unnamed_sockets_count_while_ss_names_root_sshd() -> None:
    # A container where root reads sshd's /proc but not coturn's (a non-root process).
    report = parse_turn({"host": "turn1", "state": f"{SSHD_NAMED}\n{COTURN_UNNAMED}\n"})
    assert report.listening == [("tcp", 443), ("udp", 443)]


def test_a_socket_ss_names_for_another_process_never_counts() -> None:
    nginx = 'socket=tcp LISTEN 0 511 0.0.0.0:443 0.0.0.0:* users:(("nginx",pid=7,fd=6))'
    report = parse_turn({"host": "turn1", "state": f"{nginx}\n"})
    assert report.listening == []
