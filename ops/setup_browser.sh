#!/usr/bin/env bash
# Set up what the browser tests and the web widget need, only when missing:
# Debian's Chromium (the tests drive /usr/bin/chromium with Playwright; no
# browser is ever downloaded by Playwright) and web/node_modules from the lock.
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

# npm ci again only when the lock changed since the last install.
stamp=web/node_modules/.package-lock.sha256
want=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	echo "Installing the widget's npm packages (web/package-lock.json) ..."
	(cd web && npm ci --include=dev --no-audit --no-fund --loglevel=error </dev/null)
	echo "$want" >"$stamp"
fi
