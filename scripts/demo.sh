#!/usr/bin/env bash
# The README's main-job command (`make demo`, which first sets up .venv, Docker and the base
# images): start the lab, deploy the whole site to it, prove it works, print a summary.
#
#   scripts/demo.sh                      lab on Debian 12
#   DEMO_DISTRO=debian13 scripts/demo.sh lab on Debian 13
#
# The lab is three local containers (talkdeploy lab up): a TURN server, a "Nextcloud" host
# and a client. The TURN server, its firewall and every relay test are real; the Nextcloud is
# the occ EMULATOR, a stand-in that answers occ like Nextcloud does. Traffic goes only to
# those containers. The lab stays up afterwards; `talkdeploy lab down` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${VENV:-.venv}
export PATH="$PWD/$venv/bin:$PATH"
distro=${DEMO_DISTRO:-debian12}
inventory=inventories/lab
started=$SECONDS

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
elapsed() { printf '%dm%02ds' $(((SECONDS - $1) / 60)) $(((SECONDS - $1) % 60)); }
honesty() {
    cat <<'NOTE'
What was real, what was not:
  REAL      coturn (Debian's package) on the TURN container, on port 443 through setcap,
            with TLS; its nftables firewall; every STUN/TURN allocation and relay above.
  STAND-IN  the "Nextcloud" container runs the occ EMULATOR (molecule/shared/occ_emulator),
            not Nextcloud: it answers the occ commands talkdeploy uses and keeps Talk's
            settings as Nextcloud would. On a real server the same role talks to real occ.
NOTE
}

results=()
record() { results+=("$(printf '%-44s %s' "$1" "$2")"); }

step "1/4 lab up ($distro): TURN server, Nextcloud (occ emulator), client"
t=$SECONDS
talkdeploy lab up --distro "$distro" --dir "$inventory"
record "lab up" "$(elapsed "$t")"

step "2/4 apply: coturn + firewall on the TURN server, Talk settings through occ"
t=$SECONDS
# make demo is the confirmation: apply asks for one only on a terminal without --yes.
talkdeploy apply -i "$inventory" --yes
record "apply" "$(elapsed "$t")"

step "3/4 verify: STUN, TURN over UDP/TCP/TLS, denied peers, Talk == coturn"
t=$SECONDS
talkdeploy verify -i "$inventory"
record "verify (from this machine)" "$(elapsed "$t")"

step "4/4 a client relays with the credentials Talk hands out"
# The secret is read from Talk's settings on the Nextcloud container, not from the
# inventory: the relay works only if Talk and coturn agree.
t=$SECONDS
talk_turn=$(docker exec -u www-data talkdeploy-lab-nextcloud \
    php /var/www/nextcloud/occ --no-warnings talk:turn:list --output=json)
read -r server secret < <(python3 -c '
import json, sys
entry = json.loads(sys.argv[1])[0]
print(entry["server"], entry["secret"])' "$talk_turn")
host=${server%:*}
port=${server##*:}
client_ok=1
for mode in "UDP:" "TCP:-t"; do
    name=${mode%%:*}
    # shellcheck disable=SC2086  # the flags are words on purpose
    if out=$(docker exec talkdeploy-lab-client timeout 60 turnutils_uclient ${mode#*:} -y \
        -p "$port" -W "$secret" -n 10 -m 1 "$host" 2>&1) &&
        grep -Eq 'tot_recv_msgs=[1-9]' <<<"$out"; then
        lost=$(grep -Eo 'Total lost packets [0-9]+ \([0-9.]+%\)' <<<"$out" | tail -n 1)
        printf '  pass  client -> %s over %s: relayed, turnutils_uclient (%s)\n' "$server" "$name" "${lost:-?}"
    else
        client_ok=0
        printf '  FAIL  client -> %s over %s:\n%s\n' "$server" "$name" "$(tail -n 5 <<<"$out")"
    fi
done
# TLS with a standard-library TURN client (turnutils_uclient's TLS mode hangs against coturn
# 4.6.1 + OpenSSL 3): certificate verified against the lab CA for the name Talk hands out.
if out=$(docker exec -i talkdeploy-lab-client timeout 60 python3 - "$host" "$port" "$secret" \
    /etc/talkdeploy-lab/ca.crt <molecule/full/files/turn_allocate.py 2>&1); then
    printf '  pass  client -> %s over TLS: allocated, certificate verified (%s)\n' "$server" "$out"
else
    client_ok=0
    printf '  FAIL  client -> %s over TLS: %s\n' "$server" "$out"
fi
unset secret talk_turn
record "client relay with Talk's credentials" "$(elapsed "$t")"

step "Summary"
talkdeploy lab status
printf '\n'
printf '  %s\n' "${results[@]}"
printf '  %-44s %s\n' "total" "$(elapsed "$started")"
printf '\n'
honesty
cat <<NEXT

Look around:  talkdeploy plan -i $inventory      (nothing left to change)
              docker exec -it talkdeploy-lab-turn bash
Clean up:     talkdeploy lab down
NEXT
((client_ok)) || { echo "demo: the client relay failed" >&2; exit 1; }
echo "demo: every check passed"
