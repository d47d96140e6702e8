#!/usr/bin/env bash
# Makes sure the power-loss test (test/durability/power-loss.test.ts) can run: FUSE (/dev/fuse),
# Debian's libfuse3 (packages fuse3 and libfuse3-dev), and the powercutfs binary built from
# scripts/powercutfs/powercutfs.c into .tmp/powercutfs/powercutfs. Idempotent: installs and
# builds only what is missing or out of date. The test builds the binary itself too, when the
# headers are there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -e /dev/fuse ]]; then
  echo "ensure-powercutfs: /dev/fuse does not exist: this machine cannot mount FUSE" >&2
  exit 1
fi

if [[ ! -f /usr/include/fuse3/fuse_lowlevel.h ]] || ! command -v fusermount3 >/dev/null; then
  echo "ensure-powercutfs: installing Debian's fuse3 and libfuse3-dev" >&2
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be stale on a fresh machine; refresh them only if the install fails.
  if ! apt-get install -y --no-install-recommends fuse3 libfuse3-dev >/dev/null; then
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends fuse3 libfuse3-dev >/dev/null
  fi
fi

source=scripts/powercutfs/powercutfs.c
binary=.tmp/powercutfs/powercutfs
if [[ ! -x "$binary" || "$source" -nt "$binary" ]]; then
  mkdir -p "$(dirname "$binary")"
  gcc -O2 -Wall -o "$binary" "$source" -I/usr/include/fuse3 -lfuse3 -lpthread
  echo "ensure-powercutfs: built $binary" >&2
fi
