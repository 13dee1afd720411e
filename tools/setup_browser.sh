#!/usr/bin/env bash
# Set up what only the tests need from Debian, only when missing: Chromium (the
# browser tests drive /usr/bin/chromium with Playwright; no browser is ever
# downloaded by Playwright) and nginx (deploy/'s static web page is tested with it).
# `make test` runs this; `make run` never does.
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

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	echo "Installing Debian's nginx (deploy/ web page test) ..."
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
fi
