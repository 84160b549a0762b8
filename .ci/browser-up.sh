#!/usr/bin/env bash
# Chromium for the dashboard test (test/integration/dashboard.test.ts): Debian's package, driven by
# playwright-core, which never downloads a browser of its own. Idempotent.
set -euo pipefail
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
  echo "browser-up: installing chromium from Debian"
  log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2; echo "browser-up: apt-get install chromium failed" >&2; exit 1
  fi
  rm -f "$log"
fi
echo "browser-up: $(/usr/bin/chromium --version 2>/dev/null)"
