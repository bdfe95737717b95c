#!/usr/bin/env bash
# Installs what tests/test_qgis.py needs to open the workflow's outputs with
# real QGIS: Debian's python3-qgis (QGIS 3.22 on bookworm), used through the
# system /usr/bin/python3 (the .venv does not see it). Headless: the test runs
# with QT_QPA_PLATFORM=offscreen, no X server needed.
# Run as root before the tests; running it again changes nothing.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_qgis.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

if ! dpkg-query -W -f='${Status}' python3-qgis 2>/dev/null | grep -q "install ok installed"; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends python3-qgis
fi

QT_QPA_PLATFORM=offscreen /usr/bin/python3 -c "from qgis.core import Qgis; print('setup_qgis.sh: QGIS', Qgis.QGIS_VERSION)"
