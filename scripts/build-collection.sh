#!/usr/bin/env bash
# Build the collection talkdeploy.talk from this checkout and install the tarball, so that
# something can run the INSTALLED collection instead of the checkout (molecule scenario `full`,
# the execution environment). Prints the tarball's path on stdout.
#   .cache/collection/talkdeploy-talk-<version>.tar.gz   what `ansible-galaxy collection build` made
#   .cache/collection/talkdeploy-talk.tar.gz             the same file under a version-free name
#                                                        (execution-environment.yml copies it)
#   .cache/collection/installed/                         a collections path holding only it
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
out=.cache/collection
mkdir -p "$out"
rm -f "$out"/talkdeploy-talk-*.tar.gz "$out/talkdeploy-talk.tar.gz"
"$bin/ansible-galaxy" collection build --output-path "$out" . >&2
tarballs=("$out"/talkdeploy-talk-*.tar.gz)
((${#tarballs[@]} == 1)) || { echo "build-collection: expected one tarball in $out" >&2; exit 1; }
cp "${tarballs[0]}" "$out/talkdeploy-talk.tar.gz"
# --offline: dependencies (ansible.posix) must already be installed; the `ansible` package has them.
rm -rf "$out/installed"
"$bin/ansible-galaxy" collection install --offline --force -p "$out/installed" "${tarballs[0]}" >&2
echo "$PWD/${tarballs[0]}"
