#!/usr/bin/env bash
# The web widget's npm packages (web/node_modules) from the lock, only when the lock
# changed since the last install. `make run` and `make test` both need them.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm ci again only when the lock changed since the last install.
stamp=web/node_modules/.package-lock.sha256
want=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	echo "Installing the widget's npm packages (web/package-lock.json) ..."
	(cd web && npm ci --include=dev --no-audit --no-fund --loglevel=error </dev/null)
	echo "$want" >"$stamp"
fi
