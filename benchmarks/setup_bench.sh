#!/usr/bin/env bash
# What `make bench` needs beyond `make setup`: Debian's nginx, for the scale-out
# runs (Rasa processes behind nginx as deploy/nginx.conf). Only when missing;
# benchmarks/bench.py runs its own nginx on free ports and never the system service.
set -euo pipefail

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
	echo "Installing Debian's nginx (scale-out benchmark) ..."
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
fi
