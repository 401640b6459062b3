/* JSON summary with jansson (Debian libjansson-dev): correct escaping and number formatting are
 * exactly what hand-written JSON gets wrong. */
#include "io/summary.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>

#include "core/cpu.h"
#include "core/log.h"
#include "io/atomic.h"
#include "mpi/comm.h"

json_t *summary_new(const char *command)
{
  json_t *s = json_object();
  if (!s) return NULL;
  json_object_set_new(s, "command", json_string(command));
  json_object_set_new(s, "version", json_string(MEMAUDIT_VERSION));
  /* figures from different machines compare only with the code paths that made them */
  json_object_set_new(s, "isa", json_string(cpu_isa_name(cpu_isa_active())));
  json_object_set_new(s, "blas_core", json_string(cpu_blas_core()));
  return s;
}

ma_status summary_write(MPI_Comm comm, json_t *s, const char *path, int64_t n, int64_t dim)
{
  int rank, size;
  ma_status st = MA_OK;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &size));
  if (!path) return MA_OK;
  /* the largest resident set of any rank so far: what --mem-per-rank must cover (rows included) */
  struct rusage ru;
  long rss_kib = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0, max_kib = 0;
  MA_MPI(MPI_Allreduce(&rss_kib, &max_kib, 1, MPI_LONG, MPI_MAX, comm));
  if (rank == 0) {
    json_t *phases = json_object();
    for (int i = 0; i < log_phase_count(); i++)
      json_object_set_new(phases, log_phase_name(i), json_real(log_phase_seconds(i)));
    json_object_set_new(s, "n", json_integer(n));
    json_object_set_new(s, "dim", json_integer(dim));
    json_object_set_new(s, "ranks", json_integer(size));
    json_object_set_new(s, "seconds", json_real(log_now()));
    json_object_set_new(s, "phases", phases);
    json_object_set_new(s, "peak_rss_bytes", json_integer((json_int_t)max_kib * 1024));
    char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) st = ma_fail(MA_ERR_RUNTIME, "cannot format the summary");
    else {
      size_t len = strlen(text);
      text[len] = '\n';
      st = file_write_result(path, text, len + 1);
      free(text);
    }
  }
  return mpi_agree(comm, st);
}
