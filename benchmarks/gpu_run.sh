#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine whose Python has torch
# but not the geospatial stack: stub modules stand in for rasterio, geopandas,
# shapely and affine, which the training code never calls.
set -uo pipefail
stubs=$(mktemp -d)
for m in rasterio rasterio/windows rasterio/enums geopandas shapely shapely/geometry affine; do
  mkdir -p "$stubs/$(dirname $m)"
  case $m in */*) f="$stubs/$m.py";; *) mkdir -p "$stubs/$m"; f="$stubs/$m/__init__.py";; esac
  echo "def __getattr__(name): return None" > "$f"
done
echo "class Affine(tuple):
    def __new__(cls, *a): return tuple.__new__(cls, a)" > "$stubs/affine/__init__.py"
export PYTHONPATH="$stubs:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch; print('torch', torch.__version__)"
checks=" ${CHECKS:-skt train cnn} "   # which checks to run
[[ $checks == *" skt "* ]] && python3 benchmarks/gpu_skt.py --steps "${STEPS:-200}"
[[ $checks == *" train "* ]] && python3 benchmarks/gpu_check.py
# all nine deep baselines of Table 3 (torchvision's six, SCNet, T2T-ViT-14, SNL); CNNS="scnet,snl" for a subset
[[ $checks == *" cnn "* ]] && python3 benchmarks/gpu_cnn_check.py ${CNNS:+--only "$CNNS"}
