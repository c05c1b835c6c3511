#!/usr/bin/env bash
# The analyses of docs/analyses.md (the paper's Figs. 3, 4, 9 and 10, families and ensembles), each
# into runs/analyses/<name>. Usage: bash scripts/analyses.sh [PART...], parts: mnist-psiren,
# car-psiren, mnist-sense, family (default all). mnist-sense and family read the runs that
# scripts/family.sh makes; car-psiren records the car data set on first use (about 6 minutes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
aann=.venv/bin/aann
out=runs/analyses
parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then parts=(mnist-psiren car-psiren mnist-sense family); fi
for part in "${parts[@]}"; do
  case $part in
    mnist-psiren)
      $aann analyze neighbours psiren:0.9 --task mnist --out $out/mnist-psiren90
      $aann analyze tsne psiren:0.9 --task mnist --out $out/mnist-psiren90 --neighbours 1.0=300,2.0=2000,fc=2000 ;;
    car-psiren)
      $aann analyze neighbours psiren:0.9 --task car --out $out/car-psiren90
      $aann analyze tsne psiren:0.9 --task car --out $out/car-psiren90 --neighbours 1.0=200,2.0=2000,fc1=2000,fc2=2000 ;;
    mnist-sense)
      $aann analyze neighbours runs/family/seed-0 --out $out/mnist-sense
      $aann analyze tsne runs/family/seed-0 --out $out/mnist-sense --neighbours 1.0=500,2.0=2000,fc=2000 ;;
    family)
      $aann analyze family 'runs/family/seed-*' --out $out/family
      $aann ensemble 'runs/family/seed-*' --out $out/ensemble ;;
    *) echo "analyses: unknown part $part (mnist-psiren, car-psiren, mnist-sense, family)" >&2; exit 2 ;;
  esac
done
