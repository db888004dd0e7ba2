#!/usr/bin/env bash
# System packages the tests and documents need on a fresh Debian machine: Debian's Chromium for the
# browser tests (Playwright drives it; no browser is downloaded), a CJK font so pages render Chinese and the
# supervision letters' PDFs embed it, Pango, which WeasyPrint lays those PDFs out with, and nginx (below).
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || missing+=(libpango-1.0-0)
dpkg -s libpangoft2-1.0-0 >/dev/null 2>&1 || missing+=(libpangoft2-1.0-0)
# nginx for the test of the README's X-Accel-Redirect location (tests/core/test_nginx_files.py): Debian's
# package unpacked into var/nginx, not installed, so no service is started.
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v nginx >/dev/null 2>&1 && [ ! -x "$root/var/nginx/usr/sbin/nginx" ]; then
  tmp="$(mktemp -d)"
  if (cd "$tmp" && apt-get download -qq nginx >/dev/null 2>&1); then
    mkdir -p "$root/var/nginx" && dpkg -x "$tmp"/nginx_*.deb "$root/var/nginx"
  else
    missing+=(nginx)
  fi
  rm -rf "$tmp"
fi
[ ${#missing[@]} -eq 0 ] && exit 0
echo "安装系统依赖：${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
