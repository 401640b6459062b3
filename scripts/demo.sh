#!/usr/bin/env bash
# The demo job on 2 ranks: a synthetic set with planted near-duplicates, written as 2 shards in
# float16, then inspected and validated. Run through scripts/setup.sh demo, or after a build.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$top/build/memaudit
out=${DEMO_DIR:-$top/build/demo}
mpiexec=${MPIEXEC:-mpiexec -q --oversubscribe -n}
mkdir -p "$out"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

echo "== synth: 50,000 x 256 float16 embeddings, 25% of them in near-duplicate groups, 2 shards"
$mpiexec 2 "$bin" synth --n 50000 --dim 256 --dtype f16 --shards 2 --dup-fraction 0.25 --concepts 64 \
  --seed 7 -o "$out/train.h5" --summary "$out/synth.json"
echo "== inspect: shape, chunking, ids, attributes, and every row validated"
$mpiexec 2 "$bin" inspect -i "@$out/train.list"
echo "== demo done: files in $out"
