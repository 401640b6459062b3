#!/bin/bash
# Stands in for memaudit (MEMAUDIT=this script) so test_slurm_requeue.py can drive the templates in
# slurm/ through an interruption without a long real run. Each rank behaves like an interruptible
# memaudit: it records its command line and environment in the --workdir, then works until USR1,
# "saves a checkpoint" and exits 75. A run that finds its checkpoint resumes: rank 0 writes the -o
# file, and every rank exits 0.
out=
workdir=
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    -o | --output) j=$((i + 1)); out=${!j} ;;
    --workdir) j=$((i + 1)); workdir=${!j} ;;
  esac
done
rank=${SLURM_PROCID:?not started by srun}
run=${SLURM_RESTART_COUNT:-0}
printf '%s\n' "$@" >"$workdir/args.$rank.$run"
echo "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS SLURM_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK" >"$workdir/env.$rank.$run"

if [ -e "$workdir/checkpoint.$rank" ]; then
  echo "rank $rank: resumed from $workdir/checkpoint.$rank"
  [ "$rank" -eq 0 ] && echo "result of run $run" >"$out"
  exit 0
fi
trap 'echo "run $run" >"$workdir/checkpoint.$rank"; echo "rank $rank: interrupted, checkpoint saved"; kill "$worker"; exit 75' USR1
# Slurm signals every process of the step: the worker ignores USR1, so that only this shell acts on it.
(trap '' USR1 && exec sleep 600) &
worker=$!
touch "$workdir/running.$rank.$run"
wait "$worker"
exit 1
