#!/bin/bash
# memaudit for the preemption test: on a job's first run (no requeue yet) it holds at the phase named
# by PAUSE_FIRST_RUN_AT (through MEMAUDIT_PAUSE_AT), so that the test can preempt the job right there.
if [ "${SLURM_RESTART_COUNT:-0}" = 0 ] && [ -n "${PAUSE_FIRST_RUN_AT:-}" ]; then
  export MEMAUDIT_PAUSE_AT=$PAUSE_FIRST_RUN_AT
fi
exec "$MEMAUDIT_BIN" "$@"
