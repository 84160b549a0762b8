#!/usr/bin/env bash
# Install the dagger CLI at $DAGGER_VERSION (the workflows pin 0.21.9) with Dagger's installer,
# which verifies the download against the release's checksums.
set -euo pipefail
: "${DAGGER_VERSION:?set DAGGER_VERSION, e.g. 0.21.9}"
if command -v dagger >/dev/null && dagger version | grep -q "v${DAGGER_VERSION} "; then exit 0; fi
curl -fsSL https://dl.dagger.io/dagger/install.sh | BIN_DIR="$HOME/.local/bin" DAGGER_VERSION="$DAGGER_VERSION" sh
echo "$HOME/.local/bin" >> "${GITHUB_PATH:-/dev/null}"
"$HOME/.local/bin/dagger" version
