/* memaudit: one binary, one command per run, under mpirun or srun. */
#include <mpi.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

#include "core/cpu.h"
#include "core/log.h"
#include "core/status.h"
#include "io/atomic.h"
#include "io/h5util.h"
#include "jobs/commands.h"
#include "kernels/quant.h"
#include "mpi/comm.h"
#include "mpi/watchdog.h"

typedef struct {
  const char *name;
  ma_status (*run)(MPI_Comm, int, char **);
  const char *what;
} command;

static const command commands[] = {
    {"synth", cmd_synth, "write a synthetic embedding set with known duplicate structure"},
    {"inspect", cmd_inspect, "print what an input holds and validate it"},
    {"kmeans", cmd_kmeans, "distributed spherical k-means, one or several clusterings"},
    {"dedup", cmd_dedup, "the de-duplication job"},
    {"audit", cmd_audit, "check generated samples against the training set"},
    {"embed", cmd_embed, "perceptual embeddings of JPEG images"},
    {"report", cmd_report, "HTML report from a dedup or audit result"},
};

static void usage(FILE *f)
{
  fprintf(f, "usage: memaudit COMMAND [OPTIONS]   (run under mpirun / srun for several ranks)\n"
             "       memaudit --help | --version\n       memaudit COMMAND --help\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-8s %s%s\n", commands[i].name, commands[i].what, commands[i].run ? "" : " (not in this version)");
}

static ma_status dispatch(MPI_Comm comm, int rank, int argc, char **argv)
{
  const char *warning;
  MA_CALL(cpu_init(&warning));
  if (*warning && rank == 0) fprintf(stderr, "memaudit: warning: %s (%s)\n", warning, cpu_isa_name(cpu_isa_active()));
  if (argc < 2) {
    if (rank == 0) usage(stderr);
    return ma_fail(MA_ERR_USAGE, "no command given");
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    if (rank == 0) usage(stdout);
    return MA_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    if (rank == 0)
      printf("memaudit %s\ncpu path %s (this CPU runs %s)\nOpenBLAS core %s\ninteger GEMM %s (--screen auto: %s)\n"
             "oneDNN %s\n",
             MEMAUDIT_VERSION, cpu_isa_name(cpu_isa_active()), cpu_isa_name(cpu_isa_hardware()), cpu_blas_core(),
             q8_gemm_name(), q8_gemm_fast() ? "int8" : "off",
             q8_onednn_version() ? q8_onednn_version() : "not built in");
    return MA_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(argv[1], commands[i].name) != 0) continue;
    if (!commands[i].run)
      return ma_fail(MA_ERR_USAGE, "'%s' is not available in this version (%s)", argv[1], MEMAUDIT_VERSION);
    return commands[i].run(comm, argc - 1, argv + 1);
  }
  return ma_fail(MA_ERR_USAGE, "unknown command '%s' (see memaudit --help)", argv[1]);
}

int main(int argc, char **argv)
{
  int rank = 0;
#ifdef __GLIBC__
  /* glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB), after which
   * exchange buffers and pair lists come from the heap and their pages stay resident when freed: the
   * next phase's peak then sits on top of the last one's. A fixed 4 MiB threshold returns them (dedup
   * on 1M x 256 f16, 2 ranks: peak RSS 523 -> 468 MiB on rank 0). */
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  /* oneDNN's integer GEMM mallocs and frees its packing buffers on every call (every tile of the int8
   * screening): with the default 128 KiB trim threshold each free shrank the heap and the next call
   * faulted the pages in again, a third of an audit's screened search in the kernel (brk, TLB flushes,
   * page faults). Up to 16 MiB of free heap top stays mapped instead. */
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
  /* The watchdog's thread (mpi/watchdog.h) makes MPI calls beside the main thread's. */
  double watch = 0;
  ma_status wst = wd_seconds(&watch);
  int provided = MPI_THREAD_SINGLE;
  if (MPI_Init_thread(&argc, &argv, watch > 0 ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "memaudit: error: MPI_Init failed\n");
    return MA_ERR_RUNTIME;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  log_init(rank, LOG_NORMAL);
  h5_quiet();

  ma_status st = mpi_agree(MPI_COMM_WORLD, wst);
  if (st == MA_OK) st = wd_start(MPI_COMM_WORLD, watch, provided);
  if (st == MA_OK) st = mpi_agree(MPI_COMM_WORLD, dispatch(MPI_COMM_WORLD, rank, argc, argv));
  /* the results appear together, or, after a failure, none does and no temporary stays */
  if (st == MA_OK) st = atomic_publish(MPI_COMM_WORLD);
  else atomic_discard();
  if (st != MA_OK && rank == 0) {
    fprintf(stderr, "memaudit: error: %s\n", ma_errmsg()[0] ? ma_errmsg() : "failed");
    fflush(stderr);
  }
  wd_stop();
  MPI_Finalize();
  return (int)st;
}
