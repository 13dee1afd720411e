#!/usr/bin/env bash
# Set up what only the browser tests need, only when missing: Debian's Chromium
# (the tests drive /usr/bin/chromium with Playwright; no browser is ever
# downloaded by Playwright). `make test` runs this; `make run` never does.
# Idempotent, non-interactive (CI has no stdin); run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
	echo "Installing Debian's chromium (browser tests) ..."
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
