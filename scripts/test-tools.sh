#!/usr/bin/env bash
# What the browser and terminal tests drive: Debian's Chromium (Playwright's own browser
# download is not reachable from these machines) and tmux. Installed once, when missing.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v tmux >/dev/null || missing+=(tmux)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[test-tools] installing ${missing[*]} from Debian's packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
