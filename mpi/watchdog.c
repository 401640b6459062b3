/* Heartbeats with rank 0 on a thread of their own, and MPI_Abort when a rank falls silent. */
#include "mpi/watchdog.h"

#include "core/log.h"
#include "mpi/comm.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { WD_TAG = 1, WD_HOST = 64 };

static struct {
  MPI_Comm comm; /* MPI_COMM_NULL: not running */
  int rank, size;
  double seconds, period;
  double *last;        /* rank 0: when each rank was last heard from; others: [0] for rank 0 */
  char *hosts;         /* rank 0: every rank's host name, WD_HOST bytes each */
  MPI_Request *sends;  /* one heartbeat in flight per destination at most */
  MPI_Request recv;
  int sent, got;
  pthread_t thread;
  atomic_int stop;
} wd = {.comm = MPI_COMM_NULL, .recv = MPI_REQUEST_NULL};

static double wd_clock(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ma_status wd_seconds(double *seconds)
{
  const char *v = getenv("MEMAUDIT_WATCHDOG");
  char *end;
  *seconds = 60;
  if (!v || !*v) return MA_OK;
  errno = 0;
  *seconds = strtod(v, &end);
  if (errno || *end || !(*seconds >= 0) || *seconds > 86400)
    return ma_fail(MA_ERR_USAGE, "MEMAUDIT_WATCHDOG=%s: give seconds, from 0 (off) to 86400", v);
  return MA_OK;
}

/* "4-5, 9 (node3, node5)": the silent ranks as ranges, and their hosts. */
static void wd_describe(const int *silent, int n, char *out, size_t cap)
{
  size_t len = 0;
  out[0] = 0;
  for (int i = 0; i < n && len + 32 < cap; i++) {
    int j = i;
    while (j + 1 < n && silent[j + 1] == silent[j] + 1) j++;
    len += (size_t)snprintf(out + len, cap - len, i ? ", %d" : "%d", silent[i]);
    if (j > i) len += (size_t)snprintf(out + len, cap - len, "-%d", silent[j]);
    i = j;
  }
  if (!wd.hosts) return;
  len += (size_t)snprintf(out + len, cap - len, " (");
  int shown = 0;
  for (int i = 0; i < n && len + WD_HOST + 8 < cap; i++) {
    const char *h = wd.hosts + (size_t)silent[i] * WD_HOST;
    int seen = 0;
    for (int k = 0; k < i && !seen; k++) seen = !strcmp(h, wd.hosts + (size_t)silent[k] * WD_HOST);
    if (!seen) len += (size_t)snprintf(out + len, cap - len, shown++ ? ", %s" : "%s", h);
  }
  snprintf(out + len, cap - len, ")");
}

/* The deliberate end of a job whose ranks cannot all be reached any more (watchdog.h). */
static void wd_abort(const int *silent, int n, double quiet)
{
  char who[512];
  wd_describe(silent, n, who, sizeof who);
  fprintf(stderr, "memaudit: error: watchdog: no word from rank%s %s for %.0f s in phase '%s': a host or its network "
          "is lost; ending the job (MEMAUDIT_WATCHDOG=%g)\n", n > 1 ? "s" : "", who, quiet, log_phase_current(),
          wd.seconds);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, MA_ERR_RUNTIME);
}

static void wd_beat(void)
{
  for (int q = 0; q < wd.size; q++) {
    if (q == wd.rank || (wd.rank != 0 && q != 0)) continue;
    int done = 1;
    if (wd.sends[q] != MPI_REQUEST_NULL) MPI_Test(&wd.sends[q], &done, MPI_STATUS_IGNORE);
    if (done) MPI_Isend(&wd.sent, 1, MPI_INT, q, WD_TAG, wd.comm, &wd.sends[q]);
  }
}

static void wd_listen(double now)
{
  for (;;) {
    int done = 0;
    MPI_Status s;
    MPI_Test(&wd.recv, &done, &s);
    if (!done) return;
    wd.last[wd.rank == 0 ? s.MPI_SOURCE : 0] = now;
    MPI_Irecv(&wd.got, 1, MPI_INT, wd.rank == 0 ? MPI_ANY_SOURCE : 0, WD_TAG, wd.comm, &wd.recv);
  }
}

static void wd_check(double now)
{
  if (wd.rank != 0) {
    /* rank 0 is given longer, so that when another rank is lost it is rank 0 that says so */
    if (now - wd.last[0] > 1.5 * wd.seconds) wd_abort((int[]){0}, 1, now - wd.last[0]);
    return;
  }
  int *silent = NULL, n = 0;
  double quiet = 0;
  for (int q = 1; q < wd.size; q++) {
    if (now - wd.last[q] <= wd.seconds) continue;
    if (!silent && !(silent = malloc((size_t)wd.size * sizeof *silent))) break;
    silent[n++] = q;
    if (now - wd.last[q] > quiet) quiet = now - wd.last[q];
  }
  if (n) wd_abort(silent, n, quiet);
  free(silent);
}

static void *wd_main(void *arg)
{
  (void)arg;
  double next = 0;
  /* a short nap between looks: detection within W plus a tenth of a second or so */
  double nap = wd.period / 8 < 0.1 ? wd.period / 8 : 0.1;
  struct timespec ts = {0, (long)(nap * 1e9)};
  while (!atomic_load(&wd.stop)) {
    double now = wd_clock();
    wd_listen(now);
    if (now >= next) {
      wd.sent++;
      wd_beat();
      next = now + wd.period;
    }
    wd_check(now);
    nanosleep(&ts, NULL);
  }
  return NULL;
}

/* Frees what wd_start made, once the thread is gone. */
static void wd_release(void)
{
  if (wd.recv != MPI_REQUEST_NULL) {
    MPI_Cancel(&wd.recv);
    MPI_Wait(&wd.recv, MPI_STATUS_IGNORE);
  }
  for (int q = 0; wd.sends && q < wd.size; q++)
    if (wd.sends[q] != MPI_REQUEST_NULL) MPI_Wait(&wd.sends[q], MPI_STATUS_IGNORE);
  if (wd.comm != MPI_COMM_NULL) MPI_Comm_free(&wd.comm);
  wd.comm = MPI_COMM_NULL;
  free(wd.last);
  free(wd.sends);
  free(wd.hosts);
  wd.last = NULL;
  wd.sends = NULL;
  wd.hosts = NULL;
}

ma_status wd_start(MPI_Comm comm, double seconds, int thread_level)
{
  int size, rank, started = 0;
  char host[WD_HOST] = {0};
  MA_MPI(MPI_Comm_size(comm, &size));
  MA_MPI(MPI_Comm_rank(comm, &rank));
  if (seconds <= 0 || size == 1 || thread_level < MPI_THREAD_MULTIPLE) {
    if (seconds > 0 && size > 1) log_verbose("no watchdog: the MPI library does not provide MPI_THREAD_MULTIPLE");
    return MA_OK;
  }
  ma_status st = MA_OK;
  wd.rank = rank;
  wd.size = size;
  wd.seconds = seconds;
  wd.period = seconds / 4;
  wd.last = malloc((size_t)size * sizeof *wd.last);
  wd.sends = malloc((size_t)size * sizeof *wd.sends);
  for (int q = 0; wd.sends && q < size; q++) wd.sends[q] = MPI_REQUEST_NULL;
  if (rank == 0) wd.hosts = calloc((size_t)size, WD_HOST);
  if (!wd.last || !wd.sends || (rank == 0 && !wd.hosts)) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  gethostname(host, sizeof host - 1);
  MA_MPI_TRY(MPI_Gather(host, WD_HOST, MPI_CHAR, wd.hosts, WD_HOST, MPI_CHAR, 0, comm));
  MA_MPI_TRY(MPI_Comm_dup(comm, &wd.comm));
  double now = wd_clock();
  for (int q = 0; q < size; q++) wd.last[q] = now;
  MA_MPI_TRY(MPI_Irecv(&wd.got, 1, MPI_INT, rank == 0 ? MPI_ANY_SOURCE : 0, WD_TAG, wd.comm, &wd.recv));
  atomic_store(&wd.stop, 0);
  started = pthread_create(&wd.thread, NULL, wd_main, NULL) == 0;
  if (!started) st = ma_fail(MA_ERR_RUNTIME, "cannot start the watchdog thread");
  MA_TRY(mpi_agree(comm, st));
  return MA_OK;
done:
  /* not started on every rank: stopped where it runs */
  if (started) {
    atomic_store(&wd.stop, 1);
    pthread_join(wd.thread, NULL);
  }
  wd_release();
  return st;
}

void wd_stop(void)
{
  if (wd.comm == MPI_COMM_NULL) return;
  /* Every rank is here (the watchdog still watches while they come), so every peer is alive and each
   * heartbeat in flight completes. */
  MPI_Barrier(wd.comm);
  atomic_store(&wd.stop, 1);
  pthread_join(wd.thread, NULL);
  wd_release();
}
