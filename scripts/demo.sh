#!/usr/bin/env bash
# The demo job on 2 ranks: a synthetic set with planted near-duplicates, written as 2 shards in
# float16, inspected and validated, de-duplicated (with its recall table), written again as .npy shards
# and de-duplicated incrementally (the second shard against what the first kept), then audited; then a few
# thousand generated JPEGs are embedded, de-duplicated and rendered as an HTML report. Run through scripts/setup.sh demo, or after a build.
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
echo "== dedup: 5 clusterings of 128 clusters, pairs >= 0.95 (and a sweep at 0.9), greedy keep, recall estimate"
$mpiexec 2 "$bin" dedup -i "@$out/train.list" --clusters 128 --reclusterings 5 --threshold 0.95,0.9 \
  --recall-sample 1000 -o "$out/dedup.h5" --summary "$out/dedup.json" --keep-list "$out/kept.txt" -q
/usr/bin/python3 - "$out/dedup.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"removed {s['removed']} of {s['n']} items ({100 * s['removed_fraction']:.1f}%): {s['groups']} groups, "
      f"{s['pairs']} pairs >= the lowest threshold; kept ids in kept.txt")
print("recall of the clustered search, estimated against an exact search of 1000 sampled items:")
for r in s['recall']:
    print(f"  after {r['clusterings']} clustering(s): {r['recall']:.4f}  (95% CI {r['ci_low']:.4f}-{r['ci_high']:.4f})")
EOF
echo "== .npy: the same training set as clip-retrieval lays it out (img_emb/img_emb_N.npy, float16)"
mkdir -p "$out/img_emb"
/usr/bin/python3 - "$out" <<'EOF'
import sys, h5py, numpy as np
out = sys.argv[1]
for i in range(2):
    with h5py.File(f"{out}/train-{i:05d}-of-00002.h5", "r") as f:
        np.save(f"{out}/img_emb/img_emb_{i}.npy", f["embeddings"][...])
EOF
$mpiexec 2 "$bin" inspect -i "$out/img_emb/img_emb_0.npy" -i "$out/img_emb/img_emb_1.npy"
echo "== incremental dedup: the first shard alone, then the second against what the first kept"
$mpiexec 2 "$bin" dedup -i "$out/img_emb/img_emb_0.npy" --clusters 128 -o "$out/part0.h5" --summary "$out/part0.json" -q
/usr/bin/python3 - "$out" <<'EOF'
import sys, h5py, numpy as np
out = sys.argv[1]
with h5py.File(f"{out}/part0.h5", "r") as f:
    keep = f["keep"][...].astype(bool)
np.save(f"{out}/img_emb/kept_0.npy", np.load(f"{out}/img_emb/img_emb_0.npy")[keep])
print(f"part 0: kept {keep.sum()} of {keep.size} rows, written as img_emb/kept_0.npy")
EOF
$mpiexec 2 "$bin" dedup -i "$out/img_emb/img_emb_1.npy" --against "$out/img_emb/kept_0.npy" --clusters 128 \
  -o "$out/part1.h5" --summary "$out/part1.json" --removed-csv "$out/part1-removed.csv" -q
/usr/bin/python3 - "$out" <<'EOF'
import csv, json, sys
out = sys.argv[1]
s = json.load(open(f"{out}/part1.json"))
rows = list(csv.DictReader(open(f"{out}/part1-removed.csv")))
against = sum(r["representative_file"].endswith("kept_0.npy") for r in rows)
print(f"part 1 against the {s['against']} kept rows of part 0: removed {s['removed']} of {s['n']} "
      f"({against} of them duplicate a kept row of part 0); file and row of each in part1-removed.csv")
EOF
echo "== audit: 10,000 generated samples (1% planted copies of training items) and a 5,000-item holdout"
$mpiexec 2 "$bin" synth --like "$out/train-00000-of-00002.h5" --regurgitate 0.01 --n 10000 --seed 42 \
  -o "$out/generated.h5" -q
$mpiexec 2 "$bin" synth --like "$out/train-00000-of-00002.h5" --regurgitate 0 --n 5000 --seed 99 \
  -o "$out/holdout.h5" -q
$mpiexec 2 "$bin" audit --train "@$out/train.list" --generated "$out/generated.h5" --holdout "$out/holdout.h5" \
  --source-ids /source_ids --csv "$out/flagged.csv" -o "$out/audit.h5" --summary "$out/audit.json"
/usr/bin/python3 - "$out/audit.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"flagged: {s['flagged']} of {s['generated']} samples (listed in flagged.csv)")
print(f"verdict: {s['verdict']}")
EOF
echo "== images: 4,800 generated JPEGs (160 scenes: clocks at 12 hours, shapes, gradients, text pages; 7 distorted copies each)"
"$top/build/ma_gen_images" -o "$out/images" --scenes 160 --seed 7
echo "== embed: perceptual descriptors of the images on 2 ranks"
$mpiexec 2 "$bin" embed --images "@$out/images/images.list" -o "$out/images.h5" --summary "$out/embed.json" -q
echo "== dedup of the images at cosine 0.9 (and 0.95)"
$mpiexec 2 "$bin" dedup -i "$out/images.h5" --clusters 64 --threshold 0.9,0.95 -o "$out/images-dedup.h5" \
  --summary "$out/images-dedup.json" --keep-list "$out/images-kept.txt" -q
echo "== report: charts and contact sheets of the image dedup, and of the audit"
$mpiexec 2 "$bin" report "$out/images-dedup.h5" --images "$out/images.h5" -o "$out/report-images" -q
$mpiexec 2 "$bin" report "$out/audit.h5" -o "$out/report-audit" -q
/usr/bin/python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
e, s = json.load(open(f"{out}/embed.json")), json.load(open(f"{out}/images-dedup.json"))
print(f"embedded {e['n']} images; dedup removed {s['removed']} of them ({100 * s['removed_fraction']:.1f}%) at cosine 0.9")
print(f"reports: {out}/report-images/index.html and {out}/report-audit/index.html")
EOF
echo "== demo done: files in $out"
