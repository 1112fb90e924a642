#!/usr/bin/env bash
# Creates .venv with a working pip; on Debian/Ubuntu without python3-venv, installs it (as root)
# or says what to install. A half-built .venv from an earlier failure is removed first.
set -eu
PYTHON="${1:-python3}"
VENV="${2:-.venv}"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ioc needs Python 3.11 or newer")'
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  exit 0
fi
rm -rf "$VENV"
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  pkg="python3-venv python$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $pkg (Python's venv module) with apt-get..." >&2
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq $pkg >/dev/null 2>&1 \
      || { apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=300 install -y -qq $pkg >/dev/null 2>&1; } \
      || true
  fi
  if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    echo "ioc: $PYTHON cannot create virtual environments; install them with: sudo apt-get install $pkg" >&2
    exit 1
  fi
fi
"$PYTHON" -m venv "$VENV"
