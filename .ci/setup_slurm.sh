#!/usr/bin/env bash
# Installs what tests/test_slurm.py needs to run SLURM for real: Debian's
# slurm-wlm (22.05) and munge, and the SLURM executor plugin in .venv.
# Run as root before the tests; running it again changes nothing.
# It starts no daemon: the test runs its own munged, slurmctld and slurmd
# in a temp folder and stops them when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "setup_slurm.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

# slurm-wlm brings slurmctld, slurmd and slurm-client; munge brings mungekey.
packages=(slurm-wlm slurm-client munge)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python side, as the user who owns the checkout when called through sudo.
as_user=()
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    as_user=(sudo -u "$SUDO_USER" -H)
fi
if [ ! -x .venv/bin/python ]; then
    "${as_user[@]}" make install
fi
"${as_user[@]}" .venv/bin/python -m pip install -q -r envs/requirements-cluster.txt

PATH="$PATH:/usr/sbin:/sbin"
for b in munged mungekey slurmctld slurmd slurmstepd sbatch srun squeue sinfo scontrol scancel; do
    command -v "$b" >/dev/null || { echo "setup_slurm.sh: $b missing after install" >&2; exit 1; }
done
.venv/bin/python -c "import snakemake_executor_plugin_slurm"
echo "setup_slurm.sh: $(slurmctld -V), $(munged -V 2>&1 | head -1), plugin $(.venv/bin/python -m pip show snakemake-executor-plugin-slurm 2>/dev/null | sed -n 's/^Version: //p')"
