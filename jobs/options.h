/* Command-line options shared by the commands, and the parsers every command uses. Every rank parses
 * the same argv, so a usage error is found on all ranks alike and needs no agreement. */
#ifndef MA_JOBS_OPTIONS_H
#define MA_JOBS_OPTIONS_H

#include <getopt.h>
#include <stdint.h>

#include "core/status.h"
#include "io/paths.h"

typedef struct ma_opts {
  char **inputs; /* PATH[:DATASET] specs, @LIST expanded */
  int ninputs;
  char **lists; /* the @LIST files themselves */
  int nlists;
  const char *output;
  const char *summary;
  const char *workdir;
  uint64_t seed;
  int64_t mem_per_rank; /* bytes; 0 = the default (see budget.h) */
  int verbosity;
  int drop_invalid;
  int help;
  int screen; /* --screen, the commands that search: an ma_screen */
} ma_opts;

/* --screen auto|int8|off: int8 screening of the searches (kernels/quant.h). auto: int8 where this
 * process has a fast integer GEMM (oneDNN on the avx2 or avx512 path), else off. */
typedef enum { MA_SCREEN_AUTO = 0, MA_SCREEN_INT8 = 1, MA_SCREEN_OFF = 2 } ma_screen;

/* Long-only option codes. Commands number theirs from OPT_COMMAND. */
enum { OPT_SUMMARY = 1000, OPT_SEED, OPT_WORKDIR, OPT_MEM, OPT_DROP_INVALID, OPT_SCREEN, OPT_COMMAND = 1100 };

#define MA_COMMON_SHORT "i:o:qvh"
#define MA_COMMON_LONG                                                                    \
  {"input", required_argument, 0, 'i'}, {"output", required_argument, 0, 'o'},           \
      {"summary", required_argument, 0, OPT_SUMMARY}, {"seed", required_argument, 0, OPT_SEED}, \
      {"workdir", required_argument, 0, OPT_WORKDIR}, {"mem-per-rank", required_argument, 0, OPT_MEM}, \
      {"drop-invalid", no_argument, 0, OPT_DROP_INVALID}, {"quiet", no_argument, 0, 'q'},  \
      {"verbose", no_argument, 0, 'v'}, {"help", no_argument, 0, 'h'}

#define MA_COMMON_HELP                                                                          \
  "  -i, --input PATH[:DATASET]  embeddings (repeatable, shards in order; @LIST: one a line)\n" \
  "  -o, --output PATH           result file, written atomically\n"                           \
  "      --summary PATH          JSON summary of the run\n"                                   \
  "      --seed N                every random choice follows from it (default 1)\n"           \
  "      --workdir DIR           checkpoints; a rerun with the same DIR resumes\n"            \
  "      --mem-per-rank SIZE     memory budget per rank (512M, 4G; default: Slurm's grant,\n"  \
  "                              else physical memory / ranks on the node)\n"                 \
  "      --drop-invalid          skip NaN/Inf/zero-norm rows and count them, instead of failing\n" \
  "  -q, --quiet / -v, --verbose less / more progress on stderr\n"

/* The option of the commands that search (kmeans, dedup, audit); opts_common handles it. */
#define MA_SCREEN_LONG {"screen", required_argument, 0, OPT_SCREEN}
#define MA_SCREEN_HELP                                                                           \
  "      --screen auto|int8|off  screen the searches with an int8 GEMM and rescore what could\n"   \
  "                              matter exactly: the same results, faster (default auto: int8\n"  \
  "                              where oneDNN runs, see memaudit --version)\n"

/* Whether o's --screen asks for int8 screening here: int8 yes, off no, auto when q8_gemm_fast().
 * Not collective (every rank of a job runs the same code on the same kind of CPU; the results do
 * not depend on it anyway). */
int opts_screen_int8(const ma_opts *o);

/* *screen (opts_screen_int8's answer) for rows of d dimensions: auto becomes off above Q8_MAX_D, where
 * the integer sums could overflow; --screen int8 there fails with MA_ERR_USAGE. Not collective (every
 * rank has the same options and d, so all agree). */
ma_status opts_screen_dim(const ma_opts *o, int64_t d, int *screen);

/* "int8" or "off". Not collective. */
const char *opts_screen_name(int int8);

/* Sets the defaults. Not collective. */
void opts_init(ma_opts *o);
void opts_free(ma_opts *o);

/* Handles option c if it is a common one (*handled = 1). Not collective. */
ma_status opts_common(ma_opts *o, int c, const char *arg, int *handled);

/* Adds an input spec, or every line of the file after '@'. Not collective. */
ma_status opts_add_input(ma_opts *o, const char *spec);

/* Adds o's inputs (each spec's file and each @LIST, labelled `input_option`) to p, for paths_check.
 * Not collective. */
void opts_paths_inputs(const ma_opts *o, const char *input_option, paths *p);

/* The same, and -o (a file), --summary and --workdir. Not collective. */
void opts_paths(const ma_opts *o, const char *input_option, paths *p);

/* Strict number parsers: the whole string, within [lo, hi], else MA_ERR_USAGE naming the option. */
ma_status opts_int64(const char *s, const char *name, int64_t lo, int64_t hi, int64_t *out);
ma_status opts_double(const char *s, const char *name, double lo, double hi, double *out);

/* "512M", "4G", "1.5T", "1000000" (bytes), K/M/G/T are powers of 1024. Not collective. */
ma_status opts_size(const char *s, const char *name, int64_t *out);

/* Comma-separated doubles within [lo, hi]; *out allocated. Not collective. */
ma_status opts_double_list(const char *s, const char *name, double lo, double hi, double **out, int *count);

/* The usage error for getopt's '?' / ':' result. Not collective. */
ma_status opts_unknown(const char *command, int argc, char **argv);

/* Resets getopt before a command parses its own arguments. Not collective. */
void opts_reset(void);

#endif
