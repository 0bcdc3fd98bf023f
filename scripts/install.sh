#!/usr/bin/env bash
# Idempotent install: .venv from the hashed lock file, then a Chromium for the robots; with
# KAIBAN_INSTALL_FOR_TESTS=1 (set by `make test`) also PostgreSQL's server, which the store's tests
# start for themselves. Safe to run again: it only does what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.installed-$(sha256sum requirements.lock | cut -c1-16)"

say() { printf '[install] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; exit 1; fi; }
apt_updated=
apt_install() {
  if ! command -v apt-get >/dev/null; then say "no apt-get: install $* with your package manager"; exit 1; fi
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

"$PY" - <<'PYCHECK' || { say "Python >= 3.11 is required (found: $("$PY" --version 2>&1))"; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PYCHECK

# 1. the virtual environment (Debian/Ubuntu ship venv/ensurepip separately)
if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -m venv --help >/dev/null 2>&1 || ! "$PY" -c 'import ensurepip' 2>/dev/null; then
    ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    say "installing python${ver}-venv"
    apt_install "python${ver}-venv" || apt_install python3-venv
  fi
  say "creating $VENV"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

# 2. locked dependencies (hashes checked), only when the lock changed
if [ ! -f "$STAMP" ]; then
  say "installing locked dependencies into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r requirements.lock
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi

# 3. a Chromium for the robots: Playwright's own if present, else the system's, else install one. On Debian
#    its headless shell (the robots' browser when present: the same engine, ~40 % less CPU per filing)
. /etc/os-release 2>/dev/null || true
debian=; if [ "${ID:-}" = "debian" ] || [[ " ${ID_LIKE:-} " == *" debian "* && "${ID:-}" != "ubuntu" ]]; then debian=1; fi
if [ -n "$debian" ] && [ ! -x /usr/bin/chromium-headless-shell ] && [ -z "${KAIBAN_CHROMIUM_PATH:-}" ]; then
  say "installing Debian's chromium-headless-shell"
  apt_install chromium-headless-shell || say "no chromium-headless-shell: the robots drive the full chromium"
fi
if ! "$VENV/bin/python" -m bots.browser --check >/dev/null 2>&1; then
  if [ -n "$debian" ]; then
    say "installing Debian's chromium"
    apt_install chromium
  else
    # Ubuntu's chromium package is a snap shim that does not run in containers: use Playwright's build
    say "installing Playwright's Chromium"
    "$VENV/bin/python" -m playwright install --with-deps chromium || apt_install chromium
  fi
fi
"$VENV/bin/python" -m bots.browser --check

# 4. for the tests only: PostgreSQL's server binaries (tests/support/postgres.py runs a throwaway server)
if [ -n "${KAIBAN_INSTALL_FOR_TESTS:-}" ] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  say "installing Debian's postgresql (for the store's tests)"
  apt_install postgresql
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { say "postgresql installed but no pg_ctl under /usr/lib/postgresql/*/bin"; exit 1; }
fi

# 5. fonts for what robots screenshot and people read: Chinese (WenQuanYi Micro Hei) and the rare
#    characters outside the BMP that names may hold (HanaMin covers CJK Extension B–F, e.g. 𬱖 U+2CC56)
if ! { command -v fc-list >/dev/null && [ -n "$(fc-list ':lang=zh' family)" ] && [ -n "$(fc-list ':charset=2cc56' family)" ]; }; then
  say "installing CJK fonts (fonts-wqy-microhei, fonts-hanazono)"
  apt_install fontconfig fonts-wqy-microhei fonts-hanazono
fi
say "ready"
