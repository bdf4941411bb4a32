#!/usr/bin/env bash
# What the browser, terminal and packaging tests drive: Debian's Chromium (Playwright's own
# browser download is not reachable from these machines), tmux, and docker-compose, whose
# `config` checks the compose file without a Docker engine. Installed once, when missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v tmux >/dev/null || missing+=(tmux)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[test-tools] installing ${missing[*]} from Debian's packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
