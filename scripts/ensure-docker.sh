#!/usr/bin/env bash
# Make a Docker engine available for the molecule scenarios and the lab.
#
#   scripts/ensure-docker.sh         start one if `docker info` fails (root on Debian only)
#   scripts/ensure-docker.sh --stop  stop the daemon this script started, and nothing else
#
# Hosts without systemd (CI machines, containers) get `dockerd` in the background;
# its pid is kept in $TALKDEPLOY_STATE_DIR so --stop never kills someone else's daemon.
set -euo pipefail

state_dir=${TALKDEPLOY_STATE_DIR:-/var/tmp/talkdeploy}
pid_file="$state_dir/dockerd.pid"
log_file="$state_dir/dockerd.log"

say() { printf 'ensure-docker: %s\n' "$*" >&2; }

stop_own_daemon() {
    if [[ ! -f $pid_file ]]; then
        say "no daemon was started by this script; nothing to stop"
        return 0
    fi
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        say "stopped dockerd (pid $pid)"
    fi
    rm -f "$pid_file"
}

engine_answers() { docker info >/dev/null 2>&1; }

is_debian() { [[ -r /etc/debian_version ]]; }

install_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_daemon() {
    mkdir -p "$state_dir"
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        say "starting docker.service with systemd"
        systemctl start docker
    else
        say "starting dockerd in the background (log: $log_file)"
        nohup dockerd >"$log_file" 2>&1 &
        echo $! >"$pid_file"
    fi
    for _ in $(seq 1 60); do
        engine_answers && { say "Docker engine is ready"; return 0; }
        sleep 1
    done
    say "dockerd did not answer within 60 s; last lines of its log:"
    tail -n 20 "$log_file" >&2 || true
    return 1
}

main() {
    if [[ ${1:-} == --stop ]]; then stop_own_daemon; return; fi
    if engine_answers; then
        command -v debootstrap >/dev/null 2>&1 || { is_debian && [[ $EUID -eq 0 ]] && install_packages; }
        return 0
    fi
    if [[ $EUID -ne 0 ]] || ! is_debian; then
        cat >&2 <<'MSG'
ensure-docker: no Docker engine answers `docker info`, and this script only sets one up
as root on Debian. Please:
  1. install Docker (Debian/Ubuntu: `sudo apt-get install docker.io debootstrap`),
  2. start it (`sudo systemctl start docker`, or `sudo dockerd &` without systemd),
  3. let your user use it (`sudo usermod -aG docker $USER`, then log in again),
then run this command again.
MSG
        return 1
    fi
    install_packages
    start_daemon
}

main "$@"
