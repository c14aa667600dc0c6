#!/usr/bin/env bash
# Debian packages the tests use on the machine that runs them:
#   coturn     turnutils_uclient, the Talk guide's own TURN test client (the package
#              installs a server too; it is not enabled and nothing starts it here)
#   php-cli    runs the occ emulator's own unit tests as `php occ`, like the real occ
#   openssl    self-signed certificates for the TLS tests
#   openssh-client  ssh, ssh-keygen, ssh-keyscan: the SSH lab (`lab up --ssh`) and its tests
set -euo pipefail
needed=(coturn php-cli openssl openssh-client)
missing=()
for package in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
((${#missing[@]})) || exit 0
if [[ $EUID -ne 0 ]] || [[ ! -r /etc/debian_version ]]; then
    echo "ensure-host-packages: please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "ensure-host-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the coturn package from starting a server on this machine.
policy=/usr/sbin/policy-rc.d
created_policy=
if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[[ -z $created_policy ]] || rm -f "$policy"
