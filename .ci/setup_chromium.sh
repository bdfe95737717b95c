#!/usr/bin/env bash
# Installs what tests/test_report_browser.py needs to open the HTML report in a
# real browser: Debian's chromium, run headless (no X server, no GPU).
# Run as root before the tests; running it again changes nothing.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_chromium.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # fonts-dejavu-core: some text font even on a bare image, so the page lays out as a reader sees it
    apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi

chromium --headless --no-sandbox --version | sed 's/^/setup_chromium.sh: /'
