#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard's browser test (playwright-core
# drives /usr/bin/chromium; it never downloads a browser of its own). Idempotent.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
  exit 0
fi
echo "ensure-chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists may be stale on a fresh machine; refresh them only if the install fails.
if ! apt-get install -y --no-install-recommends chromium >/dev/null; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version >&2
