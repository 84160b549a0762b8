#!/usr/bin/env bash
# Build the deploy-target image (systemd + sshd + Python 3.11 + the Rosey units +
# the CyTube test server), and its Debian base image if it is missing.
#
#   bash test/targets/build-image.sh      # idempotent; test/helpers/target.ts runs it
#   SHIPIT_TARGET_VARIANT=bare bash test/targets/build-image.sh   # shipit/target:bare (bare/Dockerfile)
#
# The image is labelled shipit.recipe=<hash of test/targets/systemd, test/targets/cytube
# and the base image id>; it is rebuilt only when that hash changes. The base,
# shipit/debian:bookworm, is the one dagger/engine-up.sh builds (debootstrap
# bookworm minbase + docker import); when it is missing it is built here the same
# way, with the same recipe label, so engine-up.sh then finds it up to date.
# Concurrent runs serialise on a lock file. Last stdout line: JSON
#   {"image": ..., "id": ..., "built": true|false, "seconds": N, "base_built": true|false}
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE="${SHIPIT_TARGET_STATE:-$REPO/.shipit/targets}"
VARIANT="${SHIPIT_TARGET_VARIANT:-systemd}"
case "$VARIANT" in
  systemd) IMAGE="${SHIPIT_TARGET_IMAGE:-shipit/target:systemd}" ;;
  # A bare host for `shipit setup`: systemd, sshd, python3 (+ venv, sudo), nothing of the bot's.
  bare) IMAGE="${SHIPIT_TARGET_IMAGE:-shipit/target:bare}" ;;
  *) echo "SHIPIT_TARGET_VARIANT must be systemd or bare, got '$VARIANT'" >&2; exit 2 ;;
esac
BASE_IMAGE="shipit/debian:bookworm"
DEBIAN_MIRROR="${SHIPIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ -n "${SHIPIT_DOCKER:-}" ]; then DOCKER="$SHIPIT_DOCKER"
elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker  # Debian's client, matches its daemon
else DOCKER=docker; fi
LOGS="$STATE/logs"
mkdir -p "$STATE" "$LOGS"

log() { printf '[target-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
sha() { sha256sum | cut -c1-16; }
logged() { # logged NAME CMD...: output to $LOGS/NAME.log, tail on failure
  local name=$1; shift
  if ! "$@" >"$LOGS/$name.log" 2>&1; then
    log "command failed: $* (log: $LOGS/$name.log); last lines:"
    tail -n 25 "$LOGS/$name.log" >&2 || true
    return 1
  fi
}
img_label() { "$DOCKER" image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

command -v "$DOCKER" >/dev/null 2>&1 \
  || die "docker not found. Install it: apt-get install -y docker.io debootstrap, then start dockerd (bash dagger/engine-up.sh does both)"
"$DOCKER" info >/dev/null 2>&1 \
  || die "dockerd does not answer ('$DOCKER info' failed). Start it: bash dagger/engine-up.sh (or: nohup dockerd >/var/log/dockerd.log 2>&1 &)"

exec 9>"$STATE/build.lock"
flock 9
T0=$(date +%s)

# ---------------------------------------------------------------- base image
# Shared with dagger/engine-up.sh: one base image, one recipe label.
BASE_BUILT=false
if ! "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$(bash "$REPO/dagger/base-image.sh" "$BASE_IMAGE" "$DEBIAN_MIRROR" "$LOGS/debootstrap.log" "$DOCKER")" || die "could not build $BASE_IMAGE"
  BASE_BUILT=true
  log "built $BASE_IMAGE in $(( $(date +%s) - T0 ))s"
fi
BASE_ID=$("$DOCKER" image inspect -f '{{.Id}}' "$BASE_IMAGE")

# ---------------------------------------------------------------- target image
# Recipe: every file under systemd/ and cytube/ (name + content) and the base id.
RECIPE=$( {
  echo "$BASE_ID"
  (cd "$HERE" && find systemd cytube -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print | LC_ALL=C sort \
     | while read -r f; do printf '%s\n' "$f"; sha256sum <"$f"; done)
} | sha)
BUILT=false
if [ "$VARIANT" = bare ]; then
  RECIPE=$( {
    echo "$BASE_ID"
    (cd "$HERE" && for f in bare/Dockerfile systemd/sshd_config systemd/ssh-hostkey.service; do printf '%s\n' "$f"; sha256sum <"$f"; done)
  } | sha)
  if [ "$(img_label "$IMAGE" shipit.recipe)" = "$RECIPE" ]; then
    log "$IMAGE is up to date (recipe $RECIPE)"
  else
    CTX=$(mktemp -d /var/tmp/shipit-target-ctx.XXXXXX)
    trap 'rm -rf "$CTX"' EXIT
    cp "$HERE/bare/Dockerfile" "$HERE/systemd/sshd_config" "$HERE/systemd/ssh-hostkey.service" "$CTX/"
    log "building $IMAGE (recipe $RECIPE; log: $LOGS/image-bare.log)"
    T1=$(date +%s)
    logged image-bare "$DOCKER" build --build-arg "BASE=$BASE_IMAGE" --label "shipit.recipe=$RECIPE" --label shipit.target=1 -t "$IMAGE" "$CTX"
    rm -rf "$CTX"; trap - EXIT
    BUILT=true
    log "built $IMAGE in $(( $(date +%s) - T1 ))s"
  fi
elif [ "$(img_label "$IMAGE" shipit.recipe)" = "$RECIPE" ]; then
  log "$IMAGE is up to date (recipe $RECIPE)"
else
  # The chat server's wheels, built on this host (cp311, as in the image) and
  # cached by the hash of its requirements: no package index needed in the build.
  REQ_SUM=$(sha <"$HERE/cytube/requirements.txt")
  WHEELS="$STATE/wheels-$REQ_SUM"
  if [ ! -f "$WHEELS/.complete" ]; then
    log "building the chat server's wheels into $WHEELS (log: $LOGS/wheels.log)"
    rm -rf "$WHEELS"; mkdir -p "$WHEELS"
    logged wheels python3 -m pip wheel --disable-pip-version-check -r "$HERE/cytube/requirements.txt" -w "$WHEELS"
    touch "$WHEELS/.complete"
  fi
  CTX=$(mktemp -d /var/tmp/shipit-target-ctx.XXXXXX)
  trap 'rm -rf "$CTX"' EXIT
  cp "$HERE"/systemd/* "$CTX/"
  mkdir -p "$CTX/cytube" "$CTX/wheels"
  cp "$HERE"/cytube/server.py "$HERE"/cytube/probe.py "$HERE"/cytube/requirements.txt "$HERE"/cytube/accounts.json "$CTX/cytube/"
  cp "$WHEELS"/*.whl "$CTX/wheels/"
  log "building $IMAGE (recipe $RECIPE; log: $LOGS/image.log)"
  T1=$(date +%s)
  logged image "$DOCKER" build --build-arg "BASE=$BASE_IMAGE" --label "shipit.recipe=$RECIPE" --label shipit.target=1 -t "$IMAGE" "$CTX"
  rm -rf "$CTX"; trap - EXIT
  BUILT=true
  log "built $IMAGE in $(( $(date +%s) - T1 ))s"
  # drop this image's superseded builds (untagged, same label key); ignore images in use
  for id in $("$DOCKER" images -q -f dangling=true -f label=shipit.target=1 2>/dev/null); do
    "$DOCKER" rmi "$id" >/dev/null 2>&1 || true
  done
fi
printf '{"image":"%s","id":"%s","built":%s,"base_built":%s,"seconds":%s}\n' \
  "$IMAGE" "$("$DOCKER" image inspect -f '{{.Id}}' "$IMAGE")" "$BUILT" "$BASE_BUILT" "$(( $(date +%s) - T0 ))"
