/* Memory budget per rank. */
#include "jobs/budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mpi/comm.h"

static int64_t env_mb(const char *name)
{
  const char *v = getenv(name);
  if (!v || !*v) return 0;
  char *end;
  long long x = strtoll(v, &end, 10);
  return end != v && x > 0 ? (int64_t)x : 0;
}

ma_status budget_resolve(MPI_Comm comm, int64_t requested, int64_t *bytes, const char **source)
{
  int local = 1;
  MA_CALL(mpi_local_ranks(comm, &local));
  if (requested > 0) {
    *bytes = requested;
    *source = "--mem-per-rank";
    return MA_OK;
  }
  int64_t per_cpu = env_mb("SLURM_MEM_PER_CPU"), per_node = env_mb("SLURM_MEM_PER_NODE");
  int64_t cpus = env_mb("SLURM_CPUS_PER_TASK");
  if (per_cpu) {
    *bytes = per_cpu * (cpus ? cpus : 1) << 20;
    *source = "Slurm (SLURM_MEM_PER_CPU)";
  } else if (per_node) {
    *bytes = (per_node << 20) / local;
    *source = "Slurm (SLURM_MEM_PER_NODE / ranks on the node)";
  } else {
    *bytes = (int64_t)sysconf(_SC_PHYS_PAGES) * (int64_t)sysconf(_SC_PAGESIZE) / local;
    *source = "physical memory / ranks on the node";
  }
  return MA_OK;
}

const char *budget_human(int64_t bytes, char *buf, int len)
{
  const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)bytes;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  snprintf(buf, (size_t)len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
  return buf;
}

ma_status budget_check(int64_t budget, int64_t need, const char *what)
{
  if (need <= budget) return MA_OK;
  char a[32], b[32];
  return ma_fail(MA_ERR_DATA, "%s needs %s per rank but the budget is %s (--mem-per-rank): use more ranks or a larger budget",
                 what, budget_human(need, a, sizeof a), budget_human(budget, b, sizeof b));
}
