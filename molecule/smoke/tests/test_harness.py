"""The harness gives each scenario a real, booted systemd with real port privileges."""


def test_systemd_is_running(host):
    state = host.run("systemctl is-system-running")
    assert state.stdout.strip() == "running", state.stdout + state.stderr


def test_converge_ran_on_the_expected_release(host):
    marker = host.file("/etc/talkdeploy-smoke")
    assert marker.content_string.split()[0] == "Debian"
    assert marker.content_string.split()[1] in {"12", "13"}


def test_ports_below_1024_are_privileged_like_on_a_real_host(host):
    assert host.sysctl("net.ipv4.ip_unprivileged_port_start") == 1024
    # An unprivileged user must not be able to bind 443 (the reason coturn needs setcap).
    bind = host.run(
        "runuser -u nobody -- python3 -c 'import socket; socket.socket().bind((\"0.0.0.0\", 443))'"
    )
    assert bind.rc != 0
    assert "Permission denied" in bind.stderr
