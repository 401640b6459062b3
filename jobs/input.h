/* The first phase of every command that reads embeddings: validate the inputs, check the memory
 * budget before allocating, read this rank's rows in parallel, check ids are unique. */
#ifndef MA_JOBS_INPUT_H
#define MA_JOBS_INPUT_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "io/h5in.h"
#include "jobs/options.h"

typedef struct job_input {
  h5in *in;
  h5in_rows rows;  /* this rank's rows */
  int64_t n;       /* rows over all ranks, after --drop-invalid */
  int64_t offset;  /* global position of this rank's first row in the output (rows before it) */
  int64_t dropped; /* over all ranks */
  int64_t budget;  /* bytes per rank */
} job_input;

/* Bytes the command will need on a rank that holds `rows` of the input, beyond the rows themselves. */
typedef int64_t (*job_need_fn)(const h5in *in, int64_t rows, const void *ctx);

/* Validates the inputs' metadata (job_input_open), then checks the budget and reads this rank's rows
 * (job_input_load); job_input_read does both. `what` names the command in the budget message.
 * Collective on comm. */
ma_status job_input_open(MPI_Comm comm, const ma_opts *o, job_input *ji);
ma_status job_input_load(MPI_Comm comm, const ma_opts *o, const char *what, job_need_fn need, const void *ctx,
                         job_input *ji);
ma_status job_input_read(MPI_Comm comm, const ma_opts *o, const char *what, job_need_fn need, const void *ctx,
                         job_input *ji);
/* Frees this rank's vectors (ids, counts and offsets stay): for a command whose last phases need no
 * vector, so that their peak does not sit on top of the data. Not collective. */
void job_input_drop_vectors(job_input *ji);

void job_input_free(job_input *ji);

/* "memaudit CMD ARGS..." for the command_line attribute (caller frees). Not collective. */
char *job_command_line(const char *command, int argc, char **argv);

#endif
