#!/usr/bin/env bash
# Docker for the deploy-target tests, from Debian: install docker.io (and debootstrap, which builds
# the target's base image), start dockerd if nothing answers, wait until it does. Idempotent.
# Nothing on these machines starts dockerd for us, and `--privileged` is never needed.
set -euo pipefail
STATE=/var/lib/shipit-engine
mkdir -p "$STATE/logs"
DOCKER=$(command -v /usr/bin/docker || command -v docker || true)
need=()
# openssh-server: the shared-engine test runs its own sshd for a runner in a second network namespace
for p in docker.io debootstrap iptables openssh-server; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "docker-up: installing ${need[*]} from Debian"
  apt-get update -qq
  # keep the packages' init scripts from starting their own dockerd and sshd: tests start their own
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" || { rm -f /usr/sbin/policy-rc.d; echo "docker-up: apt-get install ${need[*]} failed" >&2; exit 1; }
  rm -f /usr/sbin/policy-rc.d
  DOCKER=/usr/bin/docker
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "docker-up: starting dockerd (log: $STATE/logs/dockerd.log)"
  nohup dockerd >>"$STATE/logs/dockerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || { tail -n 20 "$STATE/logs/dockerd.log" >&2; echo "docker-up: dockerd exited" >&2; exit 1; }
    sleep 1
  done
  "$DOCKER" info >/dev/null 2>&1 || { tail -n 20 "$STATE/logs/dockerd.log" >&2; echo "docker-up: dockerd did not answer within 60 s" >&2; exit 1; }
fi
echo "docker-up: docker $("$DOCKER" version -f '{{.Server.Version}}') is up"
