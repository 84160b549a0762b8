#!/usr/bin/env bash
# Provision a real Dagger engine for this project's tests on a Debian 12
# machine with no container registry reachable (see dagger/README.md).
#
#   bash dagger/engine-up.sh          # idempotent; rerun any time
#   bash dagger/engine-up.sh --name=NAME                 # a second engine, its own cache volume
#   bash dagger/engine-up.sh --share=ssh --authorized-keys=FILE
#                                     # a shared engine other machines reach over SSH (see dagger/README.md)
#   source /var/lib/shipit-engine/env.sh
#
# Phases: packages, dockerd, go-build, base-image, python-image, registry,
# engine-image, engine, verify. Each reuses what an earlier run left when its
# inputs (versions, recipe files) are unchanged, and rebuilds when they differ.
set -Eeuo pipefail

# The whole body is one function, read before it runs: editing this file
# while it runs cannot derail the run.
main() {
ENGINE_NAME="" SHARE="" AUTH_KEYS=""
for arg in "$@"; do
  case "$arg" in
    --name=*) ENGINE_NAME=${arg#--name=} ;;
    --share=ssh) SHARE=ssh ;;
    --share=*) printf 'engine-up: --share takes "ssh" (the only transport it sets up), got %s\n' "${arg#--share=}" >&2; return 2 ;;
    --authorized-keys=*) AUTH_KEYS=${arg#--authorized-keys=} ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; return 0 ;;
    *) printf 'engine-up: unknown option %s (options: --name=NAME, --share=ssh, --authorized-keys=FILE, --help)\n' "$arg" >&2; return 2 ;;
  esac
done
if [ -n "$ENGINE_NAME" ] && ! [[ "$ENGINE_NAME" =~ ^[a-z0-9][a-z0-9_.-]{0,62}$ ]]; then
  printf 'engine-up: --name=%s: use lower-case letters, digits, ".", "_" and "-" (a container name)\n' "$ENGINE_NAME" >&2; return 2
fi
if [ "$SHARE" = ssh ] && { [ -z "$AUTH_KEYS" ] || [ ! -r "$AUTH_KEYS" ]; }; then
  printf 'engine-up: --share=ssh needs --authorized-keys=FILE: the public keys (one per line) of the runners allowed to use the engine\n' >&2; return 2
fi
if [ -z "$SHARE" ] && [ -n "$AUTH_KEYS" ]; then
  printf 'engine-up: --authorized-keys only applies with --share=ssh\n' >&2; return 2
fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${SHIPIT_ENGINE_STATE:-/var/lib/shipit-engine}"
WANT_VERSION="${DAGGER_VERSION:-v0.19.10}"
BASE_IMAGE="shipit/debian:bookworm"
PY_IMAGE="shipit/python:3.11-slim"
REGISTRY_PORT="${SHIPIT_REGISTRY_PORT:-5000}"
DEBIAN_MIRROR="${SHIPIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BIN="$STATE/bin"
LOGS="$STATE/logs"
mkdir -p "$STATE" "$BIN" "$LOGS" "$STATE/build"

# ---------------------------------------------------------------- helpers
PHASE="init"
HINT=""
PHASE_T0=0
T_START=$(date +%s)
declare -a TIMINGS=()

log() { printf '[engine-up %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "FAILED in phase '$PHASE': $*"
  [ -n "$HINT" ] && log "how to fix: $HINT"
  exit 1
}
on_err() {
  local rc=$? cmd=$BASH_COMMAND line=${BASH_LINENO[0]}
  log "FAILED in phase '$PHASE' (exit $rc, line $line): $cmd"
  [ -n "$HINT" ] && log "how to fix: $HINT"
  log "logs: $LOGS/"
  exit "$rc"
}
trap on_err ERR

phase() { # phase NAME HINT
  phase_end
  PHASE="$1"; HINT="$2"; PHASE_T0=$(date +%s)
  log "== $PHASE"
}
phase_end() {
  if [ "$PHASE" != "init" ] && [ "$PHASE_T0" -gt 0 ]; then
    local dt=$(( $(date +%s) - PHASE_T0 ))
    TIMINGS+=("$(printf '%-14s %5ss' "$PHASE" "$dt")")
    log "   $PHASE took ${dt}s"
  fi
  PHASE_T0=0
}
# run CMD... with output in $LOGS/NAME.log; show its tail when it fails
logged() {
  local name=$1; shift
  if ! "$@" >"$LOGS/$name.log" 2>&1; then
    log "command failed: $* (full log: $LOGS/$name.log); last lines:"
    tail -n 25 "$LOGS/$name.log" >&2 || true
    return 1
  fi
}
sha() { sha256sum | cut -c1-16; }
filesha() { cat "$@" | sha; }

# The SSH side of --share=ssh. One system account, $SHARE_USER, whose only use is the engine:
# every key in --authorized-keys gets `restrict` (no shell, pty or forwarding) and a forced
# command that joins the key's session to the engine socket (dial-stdio, built with the engine).
# Dagger's ssh:// driver asks for `buildctl dial-stdio`; the forced command runs instead,
# whatever the client asks for.
SHARE_USER=shipit-engine
share_engine() {
  local home="$STATE/share/$SHARE_USER"
  if ! id -u "$SHARE_USER" >/dev/null 2>&1; then
    logged share useradd --system --user-group --home-dir "$home" --shell /bin/sh "$SHARE_USER"
  fi
  # '*': no password, but not a locked account (sshd refuses locked ones even for keys)
  logged share usermod -p '*' "$SHARE_USER"
  mkdir -p "$home/.ssh"
  local forced="command=\"$BIN/dial-stdio --addr unix://$SOCK_DIR/engine.sock\",restrict"
  local n=0 line
  : >"$home/.ssh/authorized_keys.new"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    [[ "$line" =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh.com|sk-ecdsa-sha2-nistp256@openssh.com)\ [A-Za-z0-9+/=]+(\ .*)?$ ]] \
      || die "--authorized-keys=$AUTH_KEYS: line '${line:0:40}…' is not a public key (ssh-ed25519 AAAA… comment): options are added by engine-up, not taken from the file"
    printf '%s %s\n' "$forced" "$line" >>"$home/.ssh/authorized_keys.new"
    n=$((n + 1))
  done <"$AUTH_KEYS"
  [ "$n" -gt 0 ] || die "--authorized-keys=$AUTH_KEYS holds no public key"
  mv "$home/.ssh/authorized_keys.new" "$home/.ssh/authorized_keys"
  chown -R root:"$SHARE_USER" "$home"; chmod 750 "$home" "$home/.ssh"; chmod 640 "$home/.ssh/authorized_keys"
  # the socket: the engine's group-less root socket, handed to the account's group only
  chgrp "$SHARE_USER" "$SOCK_DIR" "$SOCK_DIR/engine.sock"
  chmod 750 "$SOCK_DIR"; chmod 660 "$SOCK_DIR/engine.sock"
  chmod o+rx "$STATE" "$BIN" 2>/dev/null || true
  log "$n key(s) may use $SOCK_DIR/engine.sock as $SHARE_USER over SSH (forced command, restrict)"
}

[ "$(id -u)" = 0 ] || { HINT="run it as root (it installs packages and starts dockerd)"; die "not root"; }

# ---------------------------------------------------------------- packages
phase packages "check that Debian's mirrors are reachable; run 'apt-get update' and retry"
# Debian's docker CLI (20.10) is used on purpose: it matches the daemon.
DOCKER=/usr/bin/docker
NEED_PKGS=(docker.io debootstrap docker-registry iptables)
missing=()
for p in "${NEED_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  # apt-get update once if the package lists don't know a package
  for p in "${missing[@]}"; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      logged apt-update apt-get update
      break
    fi
  done
  # keep the packages' init scripts from starting dockerd / the registry:
  # this script starts them itself, with its own config and logs
  policy_rc_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy_rc_added=1
  fi
  rc=0
  logged apt-install env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}" || rc=$?
  if [ "$rc" != 0 ]; then
    log "apt-get install failed; refreshing package lists once and retrying"
    logged apt-update apt-get update || true
    rc=0
    logged apt-install env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends "${missing[@]}" || rc=$?
  fi
  [ "$policy_rc_added" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed"
fi
for c in dockerd "$DOCKER" debootstrap docker-registry; do
  command -v "$c" >/dev/null || die "'$c' not found after installing ${NEED_PKGS[*]}"
done
command -v go >/dev/null || { HINT="install Go >= 1.26.1 (the dagger module's go.mod says go 1.26.1)"; die "go not found"; }

# ---------------------------------------------------------------- dockerd
phase dockerd "read $LOGS/dockerd.log; 'docker run --privileged' is not needed (and fails here)"
if ! "$DOCKER" info >/dev/null 2>&1; then
  if [ -f "$STATE/dockerd.pid" ] && kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null; then
    log "dockerd (pid $(cat "$STATE/dockerd.pid")) is starting; waiting"
  else
    log "starting dockerd (log: $LOGS/dockerd.log)"
    nohup dockerd >>"$LOGS/dockerd.log" 2>&1 </dev/null &
    echo $! >"$STATE/dockerd.pid"
  fi
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || { tail -n 20 "$LOGS/dockerd.log" >&2; die "dockerd exited"; }
    sleep 1
  done
  "$DOCKER" info >/dev/null 2>&1 || { tail -n 20 "$LOGS/dockerd.log" >&2; die "dockerd did not answer 'docker info' within 60s"; }
fi
log "docker $("$DOCKER" version -f '{{.Server.Version}}') ($("$DOCKER" info -f '{{.Driver}}, cgroup {{.CgroupVersion}}'))"
# The engine container reaches the host (and so the registry) on the
# default bridge's gateway, normally 172.17.0.1.
BRIDGE_IP=$("$DOCKER" network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
if [ -z "$BRIDGE_IP" ]; then # the default bridge often leaves Gateway empty
  bridge_if=$("$DOCKER" network inspect bridge -f '{{index .Options "com.docker.network.bridge.name"}}')
  BRIDGE_IP=$(ip -4 -o addr show dev "${bridge_if:-docker0}" 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
fi
[ -n "$BRIDGE_IP" ] || die "cannot read the docker bridge gateway address"
MIRROR="$BRIDGE_IP:$REGISTRY_PORT"

# ---------------------------------------------------------------- go-build
phase go-build "read $LOGS/go-*.log; the Go module proxy must serve github.com/dagger/dagger and dagger.io/dagger (GOPROXY=$(go env GOPROXY))"
export GOMODCACHE="$STATE/go/mod" GOCACHE="$STATE/go/cache" GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-buildvcs=false"
GO_VERSION=$(go env GOVERSION)
# go 1.26.1 or newer
go_minor=$(echo "$GO_VERSION" | sed -E 's/^go1\.([0-9]+).*/\1/'); go_patch=$(echo "$GO_VERSION" | sed -E 's/^go1\.[0-9]+\.?([0-9]*).*/\1/')
if [ "$go_minor" -lt 26 ] || { [ "$go_minor" = 26 ] && [ "${go_patch:-0}" -lt 1 ]; }; then
  HINT="install Go >= 1.26.1"; die "$GO_VERSION is too old"
fi

# One version everywhere (package.json's @dagger.io/dagger, dagger.json's
# engineVersion, the workflows): v0.19.10, the newest release whose whole build
# the Go module proxy serves. No fallback: a refusal names the module.
VERSION="$WANT_VERSION"
printf 'version=%s\n' "$VERSION" >"$STATE/version"
SUMS="$HERE/engine/go.sum"
grep -q "^github.com/dagger/dagger $VERSION h1:" "$SUMS" && grep -q "^dagger.io/dagger $VERSION h1:" "$SUMS" \
  || { HINT="add the h1: hashes of github.com/dagger/dagger@$VERSION and dagger.io/dagger@$VERSION to dagger/engine/go.sum (the checksum database does not know them), or use DAGGER_VERSION=v0.19.10"; die "dagger/engine/go.sum has no hashes for $VERSION"; }
# The checksum database answers 404 for these two modules: their hashes come
# from dagger/engine/go.sum instead, and a download that differs stops here.
export GONOSUMDB="github.com/dagger/dagger,dagger.io/dagger"
download_verified() { # download_verified MODULE -> prints its directory
  local mod=$1 json sum gomodsum dir want want_mod
  json=$(go mod download -json "$mod@$VERSION" 2>>"$LOGS/go-download.log") || {
    echo "$json" >>"$LOGS/go-download.log"
    HINT="the Go module proxy ($(go env GOPROXY)) must serve $mod@$VERSION; see $LOGS/go-download.log"
    die "cannot download $mod@$VERSION: $(echo "$json" | sed -n 's/^\s*"Error": "\(.*\)",\?$/\1/p' | head -n1)"
  }
  sum=$(echo "$json" | sed -n 's/^\s*"Sum": "\(.*\)",\?$/\1/p')
  gomodsum=$(echo "$json" | sed -n 's/^\s*"GoModSum": "\(.*\)",\?$/\1/p')
  dir=$(echo "$json" | sed -n 's/^\s*"Dir": "\(.*\)",\?$/\1/p')
  want=$(awk -v m="$mod" -v v="$VERSION" '$1==m && $2==v {print $3}' "$SUMS")
  want_mod=$(awk -v m="$mod" -v v="$VERSION/go.mod" '$1==m && $2==v {print $3}' "$SUMS")
  if [ "$sum" != "$want" ] || [ "$gomodsum" != "$want_mod" ]; then
    HINT="the download differs from the hashes committed in dagger/engine/go.sum: do not build it. Clear $GOMODCACHE/cache/download/$mod and retry; if the proxy keeps serving it, report it"
    die "checksum mismatch for $mod@$VERSION: got $sum ($gomodsum), dagger/engine/go.sum says $want ($want_mod)"
  fi
  [ -d "$dir" ] || die "go mod download gave no directory for $mod@$VERSION"
  echo "$dir"
}

DISTCONSTS_DIR="$HERE/engine/distconsts"
BUILD_TAGS="dfexcludepatterns,dfparents"
LDFLAGS="-s -w -X github.com/dagger/dagger/engine.Version=$VERSION -X github.com/dagger/dagger/engine.Tag=$VERSION"
BINS=(dagger dagger-engine dagger-init dial-stdio dnsname)
STAMP_WANT="dagger=$VERSION go=$GO_VERSION tags=$BUILD_TAGS ldflags=$(echo "$LDFLAGS" | sha) distconsts=$(filesha "$DISTCONSTS_DIR/go.mod" "$DISTCONSTS_DIR/consts.go") sums=$(filesha "$SUMS")"
bins_ok() {
  [ -f "$BIN/.stamp" ] && [ "$(head -n1 "$BIN/.stamp")" = "$STAMP_WANT" ] || return 1
  for b in "${BINS[@]}"; do [ -x "$BIN/$b" ] || return 1; done
}
if bins_ok; then
  log "binaries for $VERSION are up to date in $BIN (stamp matches); skipping the build"
else
  SRC="$STATE/build/src-$VERSION"
  log "downloading github.com/dagger/dagger@$VERSION and dagger.io/dagger@$VERSION (verified against dagger/engine/go.sum)"
  : >"$LOGS/go-download.log"
  MOD_DIR=$(download_verified github.com/dagger/dagger)
  SDK_DIR=$(download_verified dagger.io/dagger)
  COMMIT=$(go list -m -json "github.com/dagger/dagger@$VERSION" 2>/dev/null | sed -n 's/^\s*"Hash": "\([0-9a-f]*\)",\?$/\1/p' | head -n1 || true)
  rm -rf "$SRC"; mkdir -p "$SRC"
  cp -R "$MOD_DIR/." "$SRC/"
  chmod -R u+w "$SRC"
  # replace dagger.io/dagger => ./sdk/go
  rm -rf "$SRC/sdk/go"; mkdir -p "$SRC/sdk/go"; cp -R "$SDK_DIR/." "$SRC/sdk/go/"; chmod -R u+w "$SRC/sdk/go"
  # replace .../engine/distconsts => ./engine/distconsts: the nested module the
  # proxy refuses; shipit's own, describing its engine image (dagger/engine/distconsts)
  rm -rf "$SRC/engine/distconsts"; mkdir -p "$SRC/engine/distconsts"
  cp "$DISTCONSTS_DIR/go.mod" "$DISTCONSTS_DIR/consts.go" "$SRC/engine/distconsts/"
  DISTCONSTS="shipit"
  # Fail fast (before the long compile) when the proxy refuses a dependency.
  if ! (cd "$SRC" && go list -tags "$BUILD_TAGS" -deps ./cmd/dagger ./cmd/engine ./cmd/init ./cmd/dialstdio ./cmd/dnsname) \
       >/dev/null 2>"$LOGS/go-deps.log"; then
    refused=$(grep -oE '[^ :]+@v[^ :]+: reading [^ ]+: 40[0-9]' "$LOGS/go-deps.log" | sed -E 's/: reading .*: / (HTTP /; s/$/)/' | sort -u || true)
    if [ -n "$refused" ]; then
      log "the Go module proxy ($(go env GOPROXY)) refuses these dependencies of github.com/dagger/dagger@$VERSION:"
      echo "$refused" | sed 's/^/      /' >&2
      HINT="these module versions must come from a Go module proxy that serves them: put one first in GOPROXY (e.g. GOPROXY=file:///path/to/proxy,$(go env GOPROXY)); go verifies them against dagger's go.sum. See dagger/README.md"
    else
      tail -n 20 "$LOGS/go-deps.log" >&2
    fi
    die "cannot load the packages of github.com/dagger/dagger@$VERSION (log: $LOGS/go-deps.log)"
  fi
  log "building ${BINS[*]} ($VERSION, commit ${COMMIT:-?}, distconsts $DISTCONSTS) with $GO_VERSION, -p 2; log: $LOGS/go-build.log"
  OUT="$STATE/build/out-$VERSION"; rm -rf "$OUT"; mkdir -p "$OUT"
  gob() { # gob OUT PKG [ldflags-with-version]
    local o=$1 pkg=$2 ld="-s -w" tags=""
    [ "${3:-}" = versioned ] && ld="$LDFLAGS" && tags="$BUILD_TAGS"
    log "   go build $pkg"
    (cd "$SRC" && echo "+ go build -p 2 -trimpath -tags '$tags' -ldflags '$ld' -o $OUT/$o $pkg" \
      && go build -p 2 -trimpath -tags "$tags" -ldflags "$ld" -o "$OUT/$o" "$pkg") >>"$LOGS/go-build.log" 2>&1 \
      || { tail -n 30 "$LOGS/go-build.log" >&2; die "go build $pkg failed"; }
  }
  : >"$LOGS/go-build.log"
  gob dagger ./cmd/dagger versioned
  gob dagger-engine ./cmd/engine versioned
  gob dagger-init ./cmd/init
  gob dial-stdio ./cmd/dialstdio
  gob dnsname ./cmd/dnsname
  for b in "${BINS[@]}"; do install -m 0755 "$OUT/$b" "$BIN/$b"; done
  printf '%s\ncommit=%s distconsts=%s goproxy=%s built=%s\n' "$STAMP_WANT" "${COMMIT:-?}" "$DISTCONSTS" "$(go env GOPROXY)" "$(date -u +%FT%TZ)" >"$BIN/.stamp"
  rm -rf "$OUT"
fi
"$BIN/dagger" version >"$LOGS/dagger-version.txt" 2>&1 || die "the built dagger CLI does not run"
log "$(cat "$LOGS/dagger-version.txt")"

# ---------------------------------------------------------------- base-image
phase base-image "read $LOGS/debootstrap.log; debootstrap needs $DEBIAN_MIRROR"
# docker image label value of an image (empty if absent)
img_label() { "$DOCKER" image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
log "$(bash "$HERE/base-image.sh" "$BASE_IMAGE" "$DEBIAN_MIRROR" "$LOGS/debootstrap.log" "$DOCKER")" || die "could not build $BASE_IMAGE"

# ---------------------------------------------------------------- python-image
phase python-image "read $LOGS/python-image.log; the build runs apt-get inside a container (needs Debian's mirrors)"
PY_RECIPE=$( { "$DOCKER" image inspect -f '{{.Id}}' "$BASE_IMAGE"; cat "$HERE/images/python/Dockerfile"; } | sha)
if [ "$(img_label "$PY_IMAGE" shipit.recipe)" = "$PY_RECIPE" ]; then
  log "$PY_IMAGE is up to date"
else
  logged python-image "$DOCKER" build --build-arg "BASE=$BASE_IMAGE" --label "shipit.recipe=$PY_RECIPE" --label shipit.engine-up=1 \
    -t "$PY_IMAGE" "$HERE/images/python"
fi
log "$PY_IMAGE: $("$DOCKER" run --rm "$PY_IMAGE" python --version 2>&1)"

# ---------------------------------------------------------------- registry
phase registry "read $LOGS/registry.log; port $REGISTRY_PORT must be free (or serve a registry)"
REG_DIR="$STATE/registry"; mkdir -p "$REG_DIR/data"
sed -e "s#@DATA_DIR@#$REG_DIR/data#" -e "s#@ADDR@#0.0.0.0:$REGISTRY_PORT#" "$HERE/registry/config.yml" >"$REG_DIR/config.yml"
reg_up() { curl -fsS -o /dev/null "http://127.0.0.1:$REGISTRY_PORT/v2/" 2>/dev/null; }
if reg_up; then
  if [ -f "$REG_DIR/pid" ] && kill -0 "$(cat "$REG_DIR/pid")" 2>/dev/null; then
    log "registry already running (pid $(cat "$REG_DIR/pid"))"
  else
    log "NOTE: a registry not started by this script already answers on :$REGISTRY_PORT; using it"
  fi
else
  log "starting docker-registry on 0.0.0.0:$REGISTRY_PORT (data: $REG_DIR/data)"
  nohup docker-registry serve "$REG_DIR/config.yml" >>"$LOGS/registry.log" 2>&1 </dev/null &
  echo $! >"$REG_DIR/pid"
  for _ in $(seq 1 30); do reg_up && break; sleep 0.5; done
  reg_up || { tail -n 20 "$LOGS/registry.log" >&2; die "docker-registry did not answer on :$REGISTRY_PORT"; }
fi
# Push through 127.0.0.1 (which dockerd treats as an insecure registry by
# default); it is the same registry the engine reaches as $MIRROR.
PUSH_REF="127.0.0.1:$REGISTRY_PORT/library/python:3.11-slim"
"$DOCKER" tag "$PY_IMAGE" "$PUSH_REF"
logged registry-push "$DOCKER" push "$PUSH_REF"
curl -fsS -o /dev/null "http://$MIRROR/v2/library/python/manifests/3.11-slim" \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  || die "registry does not serve library/python:3.11-slim on $MIRROR (the address the engine uses)"
log "pushed python:3.11-slim; engine mirror for docker.io: http://$MIRROR"

# ---------------------------------------------------------------- engine-image
phase engine-image "read $LOGS/engine-image.log"
ENGINE_IMAGE="shipit/dagger-engine:$VERSION"
CTX="$STATE/build/engine-context"
rm -rf "$CTX"; mkdir -p "$CTX/bin"
for b in "${BINS[@]}"; do ln "$BIN/$b" "$CTX/bin/$b" 2>/dev/null || cp "$BIN/$b" "$CTX/bin/$b"; done
cp "$HERE/engine/Dockerfile" "$HERE/engine/engine.toml" "$CTX/"
sed "s#@MIRROR@#$MIRROR#g" "$HERE/engine/engine.json" >"$CTX/engine.json"
ENGINE_RECIPE=$( { "$DOCKER" image inspect -f '{{.Id}}' "$BASE_IMAGE"; head -n1 "$BIN/.stamp"; cat "$CTX/Dockerfile" "$CTX/engine.toml" "$CTX/engine.json"; } | sha)
if [ "$(img_label "$ENGINE_IMAGE" shipit.recipe)" = "$ENGINE_RECIPE" ]; then
  log "$ENGINE_IMAGE is up to date"
else
  logged engine-image "$DOCKER" build --build-arg "BASE=$BASE_IMAGE" --build-arg "DAGGER_VERSION=$VERSION" \
    --label "shipit.recipe=$ENGINE_RECIPE" --label shipit.engine-up=1 -t "$ENGINE_IMAGE" "$CTX"
fi
rm -rf "$CTX"
# drop this script's superseded (dangling) images
"$DOCKER" image prune -f --filter label=shipit.engine-up=1 >/dev/null 2>&1 || true

# ---------------------------------------------------------------- engine
phase engine "read 'docker logs dagger-engine-$VERSION'"
NAME="${ENGINE_NAME:-dagger-engine-$VERSION}"
VOLUME="shipit-$NAME"
ENV_FILE="$STATE/env.sh"
[ -z "$ENGINE_NAME" ] || ENV_FILE="$STATE/env-$NAME.sh"
# --share=ssh: the engine's socket directory is bind-mounted onto the host, where SSH hands it to
# authorized runners (the forced command below); no TCP port is ever opened.
SOCK_DIR="/run/shipit-engine/$NAME"
SHARE_MOUNT=()
[ "$SHARE" = ssh ] && SHARE_MOUNT=(-v "$SOCK_DIR:/run/dagger")
[ "$SHARE" = ssh ] && mkdir -p "$SOCK_DIR"
# The host's extra CA certificates (here: the egress proxy's CA that package
# registries are reached through). Mounted where the engine looks for them:
# it trusts them itself and installs them into every container it runs, so
# pip/npm/apt over https work inside pipelines as they do on the host.
CA_DIR="$STATE/ca-certificates"
rm -rf "$CA_DIR.new"; mkdir -p "$CA_DIR.new" "$CA_DIR"
find /usr/local/share/ca-certificates -maxdepth 2 -name '*.crt' -type f -exec cp {} "$CA_DIR.new/" \; 2>/dev/null || true
CA_SUM=$(cat "$CA_DIR.new"/*.crt 2>/dev/null | sha)
if [ "$(cat "$CA_DIR"/*.crt 2>/dev/null | sha)" != "$CA_SUM" ]; then
  # replaced only when it changed: a running engine keeps its mount of this dir
  rm -rf "$CA_DIR"; mv "$CA_DIR.new" "$CA_DIR"
else
  rm -rf "$CA_DIR.new"
fi
log "$(ls "$CA_DIR" | grep -c '\.crt$' || true) extra CA certificate(s) from /usr/local/share/ca-certificates for the engine"
want_id=$("$DOCKER" image inspect -f '{{.Id}}' "$ENGINE_IMAGE")
have_id=$("$DOCKER" container inspect -f '{{.Image}}' "$NAME" 2>/dev/null || true)
if [ -n "$have_id" ] && { [ "$have_id" != "$want_id" ] || \
     [ "$("$DOCKER" container inspect -f '{{index .Config.Labels "shipit.cacerts"}}' "$NAME")" != "$CA_SUM" ] || \
     [ "$("$DOCKER" container inspect -f '{{index .Config.Labels "shipit.share"}}' "$NAME")" != "${SHARE:-none}" ]; }; then
  log "container $NAME runs an older image, CA set or sharing mode; recreating it (cache volume $VOLUME is kept)"
  "$DOCKER" rm -f "$NAME" >/dev/null
  have_id=""
fi
if [ -z "$have_id" ]; then
  log "creating container $NAME"
  rm -f "$SOCK_DIR/engine.sock" 2>/dev/null || true # a stale socket would pass the wait below
  # Not --privileged: runc cannot grant CAP_SYS_RESOURCE in this sandbox.
  "$DOCKER" run -d --name "$NAME" \
    --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    -v "$VOLUME:/var/lib/dagger" \
    -v "$CA_DIR:/usr/local/share/ca-certificates" \
    "${SHARE_MOUNT[@]}" \
    --label "shipit.cacerts=$CA_SUM" --label "shipit.share=${SHARE:-none}" \
    "$ENGINE_IMAGE" >/dev/null
elif [ "$("$DOCKER" container inspect -f '{{.State.Running}}' "$NAME")" != true ]; then
  log "starting existing container $NAME"
  "$DOCKER" start "$NAME" >/dev/null
else
  log "container $NAME is running"
fi
for _ in $(seq 1 60); do
  "$DOCKER" exec "$NAME" test -S /run/dagger/engine.sock 2>/dev/null && break
  [ "$("$DOCKER" container inspect -f '{{.State.Running}}' "$NAME")" = true ] \
    || { "$DOCKER" logs --tail 30 "$NAME" >&2; die "engine container exited"; }
  sleep 1
done
"$DOCKER" exec "$NAME" test -S /run/dagger/engine.sock \
  || { "$DOCKER" logs --tail 30 "$NAME" >&2; die "engine socket /run/dagger/engine.sock did not appear within 60s"; }

# ---------------------------------------------------------------- share
if [ "$SHARE" = ssh ]; then
  phase share "the engine socket is $SOCK_DIR/engine.sock; read $LOGS/share.log"
  share_engine
fi

# ---------------------------------------------------------------- verify
phase verify "read $LOGS/verify.log and 'docker logs $NAME'"
export _EXPERIMENTAL_DAGGER_CLI_BIN="$BIN/dagger"
export _EXPERIMENTAL_DAGGER_RUNNER_HOST="docker-container://$NAME"
export DAGGER_NO_UPDATE_CHECK=1 DO_NOT_TRACK=1
out=$(cd "$STATE" && timeout 600 "$BIN/dagger" --progress=plain core container from --address=python:3.11-slim \
        with-exec --args=python3,--version stdout 2>"$LOGS/verify.log") \
  || { tail -n 30 "$LOGS/verify.log" >&2; die "the engine could not run python:3.11-slim"; }
echo "$out" >>"$LOGS/verify.log"
echo "$out" | grep -q '^Python 3\.11\.' || die "expected 'Python 3.11.x' from the engine, got: $out"
log "engine ran python:3.11-slim (pulled via the mirror): $out"
# Not fatal: can pipelines reach PyPI over https (egress CA installed)?
if (cd "$STATE" && timeout 180 "$BIN/dagger" --progress=plain core container from --address=python:3.11-slim \
      with-exec --args=python3,-c,"import urllib.request as u; print(u.urlopen('https://pypi.org/simple/pip/').status)" \
      stdout) >>"$LOGS/verify.log" 2>&1; then
  log "pipelines reach PyPI over https"
else
  log "WARNING: a pipeline container could not reach https://pypi.org (see $LOGS/verify.log); pip inside pipelines will fail"
fi
phase_end

# ---------------------------------------------------------------- env
cat >"$ENV_FILE" <<EOF
# written by dagger/engine-up.sh ($(date -u +%FT%TZ)); dagger $VERSION
export _EXPERIMENTAL_DAGGER_CLI_BIN=$BIN/dagger
export _EXPERIMENTAL_DAGGER_RUNNER_HOST=docker-container://$NAME
export DAGGER_NO_UPDATE_CHECK=1 DO_NOT_TRACK=1
EOF
log "timings:"
for t in "${TIMINGS[@]}"; do log "   $t"; done
log "   total          $(( $(date +%s) - T_START ))s"
log "engine $NAME is up (dagger $VERSION). Export (also in $ENV_FILE):"
grep '^export' "$ENV_FILE"
if [ "$SHARE" = ssh ]; then
  log "shared over SSH: a runner whose key is in $AUTH_KEYS sets"
  log "   _EXPERIMENTAL_DAGGER_RUNNER_HOST=ssh://$SHARE_USER@$(hostname -f 2>/dev/null || hostname)"
  log "   (and _EXPERIMENTAL_DAGGER_CLI_BIN to a v0.19.10 dagger CLI); see dagger/README.md, 'A shared engine'"
fi
}

main "$@"; exit $?
