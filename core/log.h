/* Progress on stderr, from rank 0 only, with a timestamp since start; and the per-phase wall times
 * that go into the JSON summary. Results never go here: they go to files. */
#ifndef MA_LOG_H
#define MA_LOG_H

#include <stdint.h>

enum { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

/* Sets which rank prints (only rank 0 does) and how much. Call once, early. Not collective. */
void log_init(int rank, int verbosity);

/* Seconds since log_init, monotonic. Not collective. */
double log_now(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Opens a named phase: logs it and starts its clock. A phase ends when the next begins or at
 * log_phase_end(). Repeated names accumulate. Not collective (but every rank calls it alike). */
void log_phase_begin(const char *name);
void log_phase_end(void);

/* "phase: 37% (370/1000), ETA 12 s", at most about once per second unless done == total. */
void log_progress(int64_t done, int64_t total);

/* The phases seen so far, in order of first appearance. Not collective. */
int log_phase_count(void);
const char *log_phase_name(int i);
/* The name of the phase begun last ("start-up" before the first). Safe from another thread. */
const char *log_phase_current(void);
double log_phase_seconds(int i);

#endif
