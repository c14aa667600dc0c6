#!/usr/bin/env bash
# Build the systemd base images the molecule scenarios and the lab run on:
#   talkdeploy-test/debian12 (bookworm) and talkdeploy-test/debian13 (trixie).
# No image registry is reachable here, so each image is a debootstrap'ed root
# file system imported into Docker. An image that already exists is kept.
#
#   scripts/build-images.sh [debian12|debian13 ...]   (default: both)
#   FORCE=1 scripts/build-images.sh                   rebuild even if present
set -euo pipefail

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,python3,sudo,iproute2,procps

say() { printf 'build-images: %s\n' "$*" >&2; }

suite_of() {
    case $1 in
        debian12) echo bookworm ;;
        debian13) echo trixie ;;
        *) say "unknown image '$1' (expected debian12 or debian13)"; return 1 ;;
    esac
}

build() {
    local name=$1 suite image rootfs
    suite=$(suite_of "$name")
    image="talkdeploy-test/$name:latest"
    if [[ -z ${FORCE:-} ]] && docker image inspect "$image" >/dev/null 2>&1; then
        say "$image exists; skipping (FORCE=1 rebuilds)"
        return 0
    fi
    rootfs=$(mktemp -d "/var/tmp/talkdeploy-rootfs-$name.XXXXXX")
    work_dirs+=("$rootfs")
    say "debootstrap $suite into $rootfs"
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
        >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; rm -f "$rootfs.log"; return 1; }
    rm -f "$rootfs.log"
    # Keep the image small and its apt usable: no leftover package cache, and a
    # machine-id that systemd fills in at first boot of each container.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    : >"$rootfs/etc/machine-id"
    say "importing $image"
    tar -C "$rootfs" -c . | docker import \
        -c 'CMD ["/lib/systemd/systemd"]' \
        -c 'ENV container=docker' \
        - "$image" >/dev/null
    say "built $image"
}

work_dirs=()
cleanup() { ((${#work_dirs[@]} == 0)) || rm -rf "${work_dirs[@]}"; }
trap cleanup EXIT

main() {
    local names=("$@")
    ((${#names[@]})) || names=(debian12 debian13)
    for name in "${names[@]}"; do build "$name"; done
}

main "$@"
