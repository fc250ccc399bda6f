#!/usr/bin/env bash
# Make sure Debian's chromium and its chromedriver are installed for the console's
# browser tests: install them with apt-get when missing (as root, or through sudo),
# else say what to install. The tests never download a browser or a driver.
set -uo pipefail

DRIVER=/usr/bin/chromedriver
BROWSER=/usr/bin/chromium
PACKAGES="chromium chromium-driver"

if [ -x "$DRIVER" ] && [ -x "$BROWSER" ]; then
    echo "    chromium and chromedriver are installed"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "    chromium is not installed and this user cannot install it: run" \
         "'sudo apt-get install $PACKAGES' (the browser tests skip without it, and fail under CI)"
    exit 0
fi

echo "    installing $PACKAGES with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null \
    && "${as_root[@]}" apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null \
    || { echo "error: apt-get could not install $PACKAGES" >&2; exit 1; }
[ -x "$DRIVER" ] || { echo "error: $PACKAGES installed but $DRIVER is missing" >&2; exit 1; }
echo "    chromium and chromedriver are installed"
