/* Option parsing shared by the commands. */
#include "jobs/options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/quant.h"

void opts_init(ma_opts *o)
{
  memset(o, 0, sizeof *o);
  o->seed = 1;
  o->verbosity = LOG_NORMAL;
}

void opts_free(ma_opts *o)
{
  for (int i = 0; i < o->ninputs; i++) free(o->inputs[i]);
  free(o->inputs);
  o->inputs = NULL;
  o->ninputs = 0;
  for (int i = 0; i < o->nlists; i++) free(o->lists[i]);
  free(o->lists);
  o->lists = NULL;
  o->nlists = 0;
}

/* Appends a copy of s[0, len) to the array *v of *n strings. */
static ma_status push_string(char ***v, int *n, const char *s, size_t len)
{
  char **grown = realloc(*v, (size_t)(*n + 1) * sizeof *grown);
  if (!grown) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  *v = grown;
  if (!(grown[*n] = strndup(s, len))) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  (*n)++;
  return MA_OK;
}

static ma_status push_input(ma_opts *o, const char *spec, size_t len) { return push_string(&o->inputs, &o->ninputs, spec, len); }

ma_status opts_add_input(ma_opts *o, const char *spec)
{
  if (spec[0] != '@') return push_input(o, spec, strlen(spec));
  MA_CALL(push_string(&o->lists, &o->nlists, spec + 1, strlen(spec + 1)));
  FILE *f = fopen(spec + 1, "r");
  if (!f) return ma_fail(MA_ERR_USAGE, "cannot read input list %s: %s", spec + 1, strerror(errno));
  char line[4096];
  ma_status st = MA_OK;
  int lines = 0;
  while (st == MA_OK && fgets(line, sizeof line, f)) {
    size_t len = strcspn(line, "\r\n");
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    size_t skip = strspn(line, " \t");
    if (len <= skip || line[skip] == '#') continue;
    st = push_input(o, line + skip, len - skip);
    lines++;
  }
  fclose(f);
  if (st == MA_OK && lines == 0) st = ma_fail(MA_ERR_USAGE, "input list %s names no file", spec + 1);
  return st;
}

void opts_paths_inputs(const ma_opts *o, const char *input_option, paths *p)
{
  for (int i = 0; i < o->ninputs; i++) paths_add_spec(p, input_option, o->inputs[i]);
  for (int i = 0; i < o->nlists; i++) paths_add_in(p, input_option, o->lists[i]);
}

void opts_paths(const ma_opts *o, const char *input_option, paths *p)
{
  opts_paths_inputs(o, input_option, p);
  paths_add_out(p, "-o", o->output, PATHS_FILE);
  paths_add_out(p, "--summary", o->summary, PATHS_FILE);
  paths_add_out(p, "--workdir", o->workdir, PATHS_WORKDIR);
}

ma_status opts_int64(const char *s, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0')
    return ma_fail(MA_ERR_USAGE, "%s takes a whole number, not '%s'", name, s);
  if (v < lo || v > hi)
    return ma_fail(MA_ERR_USAGE, "%s must be between %lld and %lld, not %lld", name, (long long)lo, (long long)hi, v);
  *out = v;
  return MA_OK;
}

ma_status opts_double(const char *s, const char *name, double lo, double hi, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end != '\0' || !isfinite(v))
    return ma_fail(MA_ERR_USAGE, "%s takes a number, not '%s'", name, s);
  if (v < lo || v > hi) return ma_fail(MA_ERR_USAGE, "%s must be between %g and %g, not %g", name, lo, hi, v);
  *out = v;
  return MA_OK;
}

ma_status opts_size(const char *s, const char *name, int64_t *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  double unit = 1;
  if (errno || end == s || !isfinite(v) || v <= 0) goto bad;
  switch (*end) {
  case 'k': case 'K': unit = 1024.0; end++; break;
  case 'm': case 'M': unit = 1024.0 * 1024; end++; break;
  case 'g': case 'G': unit = 1024.0 * 1024 * 1024; end++; break;
  case 't': case 'T': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
  default: break;
  }
  if (*end == 'B' || *end == 'b') end++;
  if (*end != '\0' || v * unit >= 9.2e18 || v * unit < 1) goto bad;
  *out = (int64_t)(v * unit);
  return MA_OK;
bad:
  return ma_fail(MA_ERR_USAGE, "%s takes a size such as 512M or 4G, not '%s'", name, s);
}

ma_status opts_double_list(const char *s, const char *name, double lo, double hi, double **out, int *count)
{
  int n = 1;
  for (const char *p = s; *p; p++) n += *p == ',';
  double *v = calloc((size_t)n, sizeof *v);
  char *copy = strdup(s);
  ma_status st = MA_OK;
  if (!v || !copy) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  char *save = NULL, *tok = copy;
  for (int i = 0; st == MA_OK && i < n; i++) {
    char *item = strtok_r(i == 0 ? tok : NULL, ",", &save);
    st = item ? opts_double(item, name, lo, hi, &v[i]) : ma_fail(MA_ERR_USAGE, "%s: empty item in '%s'", name, s);
  }
  free(copy);
  if (st != MA_OK) {
    free(v);
    return st;
  }
  *out = v;
  *count = n;
  return MA_OK;
}

ma_status opts_common(ma_opts *o, int c, const char *arg, int *handled)
{
  int64_t v;
  *handled = 1;
  switch (c) {
  case 'i': return opts_add_input(o, arg);
  case 'o': o->output = arg; return MA_OK;
  case OPT_SUMMARY: o->summary = arg; return MA_OK;
  case OPT_WORKDIR: o->workdir = arg; return MA_OK;
  case OPT_SEED:
    MA_CALL(opts_int64(arg, "--seed", 0, INT64_MAX, &v));
    o->seed = (uint64_t)v;
    return MA_OK;
  case OPT_MEM: return opts_size(arg, "--mem-per-rank", &o->mem_per_rank);
  case OPT_DROP_INVALID: o->drop_invalid = 1; return MA_OK;
  case OPT_SCREEN:
    if (!strcmp(arg, "auto")) o->screen = MA_SCREEN_AUTO;
    else if (!strcmp(arg, "int8")) o->screen = MA_SCREEN_INT8;
    else if (!strcmp(arg, "off")) o->screen = MA_SCREEN_OFF;
    else return ma_fail(MA_ERR_USAGE, "--screen takes auto, int8 or off, not '%s'", arg);
    return MA_OK;
  case 'q': o->verbosity = LOG_QUIET; return MA_OK;
  case 'v': o->verbosity = LOG_VERBOSE; return MA_OK;
  case 'h': o->help = 1; return MA_OK;
  default: *handled = 0; return MA_OK;
  }
}

int opts_screen_int8(const ma_opts *o)
{
  /* auto: int8 wherever the integer GEMM is oneDNN's on a vector path, where every screened phase
   * measured faster than off on both paths (docs/kernels.md, "Measured") */
  return o->screen == MA_SCREEN_INT8 || (o->screen == MA_SCREEN_AUTO && q8_gemm_fast());
}

ma_status opts_screen_dim(const ma_opts *o, int64_t d, int *screen)
{
  if (!*screen || d <= Q8_MAX_D) return MA_OK;
  if (o->screen == MA_SCREEN_INT8)
    return ma_fail(MA_ERR_USAGE, "--screen int8 takes vectors of at most %d dimensions, these have %lld: use "
                   "--screen auto or off", Q8_MAX_D, (long long)d);
  *screen = 0;
  return MA_OK;
}

const char *opts_screen_name(int int8) { return int8 ? "int8" : "off"; }

ma_status opts_unknown(const char *command, int argc, char **argv)
{
  const char *bad = optind - 1 < argc && optind >= 1 ? argv[optind - 1] : "?";
  if (optopt && optopt < 256 && optopt != '?')
    return ma_fail(MA_ERR_USAGE, "%s: option -%c is unknown or lacks its value (see memaudit %s --help)", command,
                   optopt, command);
  return ma_fail(MA_ERR_USAGE, "%s: option '%s' is unknown or lacks its value (see memaudit %s --help)", command,
                 bad, command);
}

void opts_reset(void)
{
  optind = 0; /* glibc: 0 re-initialises getopt completely */
  opterr = 0;
  optopt = 0;
}
