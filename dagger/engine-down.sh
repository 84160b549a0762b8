#!/usr/bin/env bash
# Stop what dagger/engine-up.sh started: the engine container and the local
# registry. Keeps the caches: built binaries ($STATE/bin), the Go caches, the
# docker images, the engine's cache volume and the registry's data.
#   bash dagger/engine-down.sh            # stop engine + registry
#   bash dagger/engine-down.sh --dockerd  # also stop the dockerd it started
#   bash dagger/engine-down.sh --name=NAME [--volume]
#                                         # only the engine started with --name (and its cache volume)
set -euo pipefail

NAME="" VOLUME=0 DOCKERD=0
for arg in "$@"; do
  case "$arg" in
    --name=*) NAME=${arg#--name=} ;;
    --volume) VOLUME=1 ;;
    --dockerd) DOCKERD=1 ;;
    *) printf 'engine-down: unknown option %s (options: --dockerd, --name=NAME, --volume)\n' "$arg" >&2; exit 2 ;;
  esac
done

STATE="${SHIPIT_ENGINE_STATE:-/var/lib/shipit-engine}"
DOCKER=/usr/bin/docker
command -v "$DOCKER" >/dev/null || DOCKER=docker
log() { printf '[engine-down] %s\n' "$*" >&2; }
rc=0

if [ -n "$NAME" ]; then
  "$DOCKER" rm -f "$NAME" >/dev/null 2>&1 && log "removed container $NAME" || log "no container $NAME"
  if [ "$VOLUME" = 1 ]; then
    "$DOCKER" volume rm "shipit-$NAME" >/dev/null 2>&1 && log "removed cache volume shipit-$NAME" || log "no cache volume shipit-$NAME"
  fi
  rm -rf "/run/shipit-engine/$NAME" "$STATE/env-$NAME.sh"
  exit 0
fi

if "$DOCKER" info >/dev/null 2>&1; then
  # every engine container this script family made (any version)
  for name in $("$DOCKER" ps -a --format '{{.Names}}' | grep '^dagger-engine-v' || true); do
    if "$DOCKER" rm -f "$name" >/dev/null; then
      log "removed container $name (cache volume shipit-$name kept)"
    else
      log "could not remove container $name: try 'docker rm -f $name'"; rc=1
    fi
  done
else
  log "dockerd is not answering; no engine container to stop"
fi

stop_pid() { # stop_pid WHAT PIDFILE EXPECTED_COMM
  local what=$1 pidfile=$2 comm=$3 pid
  [ -f "$pidfile" ] || { log "$what: not started by engine-up.sh (no $pidfile)"; return 0; }
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$what (pid $pid) did not stop; try 'kill -9 $pid'"; rc=1; return 0
    fi
    log "stopped $what (pid $pid)"
  else
    log "$what (pid $pid) was not running"
  fi
  rm -f "$pidfile"
}
stop_pid registry "$STATE/registry/pid" docker-registry

if [ "$DOCKERD" = 1 ]; then
  stop_pid dockerd "$STATE/dockerd.pid" dockerd
fi
exit "$rc"
