/* Rank-0 logger and phase clock. */
#include "core/log.h"

#include "core/signal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOG_MAX_PHASES 64

static int log_rank;
static int log_level = LOG_NORMAL;
static double log_t0 = -1;
static struct {
  char name[48];
  double seconds;
} log_phases[LOG_MAX_PHASES];
static int log_nphases;
static int log_current = -1;
/* The phase begun last, for the watchdog thread (mpi/watchdog.c): a name is written before its index
 * is published here, and never changes after. */
static _Atomic int log_latest = -1;
static double log_current_start;
static double log_last_progress;

static double clock_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void log_init(int rank, int verbosity)
{
  log_rank = rank;
  log_level = verbosity;
  log_t0 = clock_seconds();
}

double log_now(void)
{
  if (log_t0 < 0) log_t0 = clock_seconds();
  return clock_seconds() - log_t0;
}

static void log_emit(int level, const char *fmt, va_list ap)
{
  if (log_rank != 0 || log_level < level) return;
  char line[1024];
  vsnprintf(line, sizeof line, fmt, ap);
  const char *phase = log_current >= 0 ? log_phases[log_current].name : "-";
  fprintf(stderr, "[%9.2fs] %-10s %s\n", log_now(), phase, line);
  fflush(stderr);
}

void log_info(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_emit(LOG_NORMAL, fmt, ap);
  va_end(ap);
}

void log_verbose(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_emit(LOG_VERBOSE, fmt, ap);
  va_end(ap);
}

void log_phase_end(void)
{
  if (log_current < 0) return;
  log_phases[log_current].seconds += log_now() - log_current_start;
  log_current = -1;
}

void log_phase_begin(const char *name)
{
  log_phase_end();
  int i = 0;
  while (i < log_nphases && strcmp(log_phases[i].name, name) != 0) i++;
  if (i == log_nphases) {
    if (log_nphases == LOG_MAX_PHASES) i = LOG_MAX_PHASES - 1; /* fold the overflow into the last */
    else snprintf(log_phases[log_nphases++].name, sizeof log_phases[0].name, "%s", name);
  }
  log_current = i;
  log_latest = i;
  log_current_start = log_now();
  log_last_progress = log_current_start;
  log_verbose("begins");
  if (sig_pause_wanted(name)) {
    log_info("paused for a test (MEMAUDIT_PAUSE_AT): waiting for a signal");
    sig_pause();
  }
}

void log_progress(int64_t done, int64_t total)
{
  double t = log_now();
  if (done < total && t - log_last_progress < 1.0) return;
  log_last_progress = t;
  double elapsed = log_current >= 0 ? t - log_current_start : t;
  double frac = total > 0 ? (double)done / (double)total : 1.0;
  if (frac > 0 && done < total)
    log_info("%3.0f%% (%lld/%lld), ETA %.0f s", 100 * frac, (long long)done, (long long)total,
             elapsed * (1 - frac) / frac);
  else
    log_info("%3.0f%% (%lld/%lld) in %.1f s", 100 * frac, (long long)done, (long long)total, elapsed);
}

int log_phase_count(void) { return log_nphases; }
const char *log_phase_current(void)
{
  int i = log_latest;
  return i >= 0 ? log_phases[i].name : "start-up";
}
const char *log_phase_name(int i) { return log_phases[i].name; }
double log_phase_seconds(int i)
{
  double s = log_phases[i].seconds;
  if (i == log_current) s += log_now() - log_current_start;
  return s;
}
