/* The commands of SPEC.md. Each parses its own arguments (argv[0] is the command name) and runs.
 * Collective on comm: every rank calls the command with the same arguments. */
#ifndef MA_JOBS_COMMANDS_H
#define MA_JOBS_COMMANDS_H

#include <mpi.h>

#include "core/status.h"

ma_status cmd_synth(MPI_Comm comm, int argc, char **argv);
ma_status cmd_inspect(MPI_Comm comm, int argc, char **argv);
ma_status cmd_kmeans(MPI_Comm comm, int argc, char **argv);
ma_status cmd_dedup(MPI_Comm comm, int argc, char **argv);
ma_status cmd_audit(MPI_Comm comm, int argc, char **argv);
ma_status cmd_report(MPI_Comm comm, int argc, char **argv);
ma_status cmd_embed(MPI_Comm comm, int argc, char **argv);

#endif
