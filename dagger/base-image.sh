#!/usr/bin/env bash
# Build the shared Debian bookworm base image (debootstrap minbase + docker import), unless an image
# with the same recipe label exists. Used by dagger/engine-up.sh (engine and python images) and
# test/targets/build-image.sh (the deploy target), so both agree on one image and one label.
#
#   bash dagger/base-image.sh IMAGE DEBIAN_MIRROR LOGFILE [DOCKER]
set -euo pipefail
IMAGE=$1 MIRROR=$2 LOG=$3 DOCKER=${4:-docker}
RECIPE=$(printf 'bookworm minbase ca-certificates %s v1' "$MIRROR" | sha256sum | cut -c1-16)
label=$("$DOCKER" image inspect -f '{{index .Config.Labels "shipit.recipe"}}' "$IMAGE" 2>/dev/null || true)
if [ "$label" = "$RECIPE" ]; then
  echo "$IMAGE is up to date"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || { echo "base-image: debootstrap is not installed: apt-get install -y debootstrap" >&2; exit 1; }
ROOTFS=$(mktemp -d /var/tmp/shipit-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$(dirname "$LOG")"
if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" "$MIRROR" >>"$LOG" 2>&1; then
  tail -n 20 "$LOG" >&2
  echo "base-image: debootstrap bookworm from $MIRROR failed (log: $LOG)" >&2
  exit 1
fi
cat >"$ROOTFS/etc/apt/sources.list" <<EOT
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOT
# like Debian's docker images: no recommends, no apt caches
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$ROOTFS/etc/apt/apt.conf.d/90shipit"
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb
tar -C "$ROOTFS" -c . | "$DOCKER" import \
  -c "LABEL shipit.recipe=$RECIPE" -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["bash"]' - "$IMAGE" >/dev/null
echo "built $IMAGE"
