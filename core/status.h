/* One status type for the whole program, and the macros every call is checked through.
 *
 * A function that can fail returns ma_status. The first failure records its message with ma_fail();
 * callers pass the code up unchanged, so the message that reaches the user names the root cause.
 * The numeric values are the exit codes of SPEC.md. */
#ifndef MA_STATUS_H
#define MA_STATUS_H

typedef enum {
  MA_OK = 0,
  MA_ERR_RUNTIME = 1,      /* I/O, MPI, out of memory */
  MA_ERR_USAGE = 2,        /* bad options */
  MA_ERR_DATA = 3,         /* the input data is invalid */
  MA_ERR_INTERRUPTED = 75  /* stopped on a signal after a checkpoint */
} ma_status;

/* Records "fmt ..." as this process's error message unless one is recorded already, and returns code.
 * Not collective. */
ma_status ma_fail(ma_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This process's recorded message ("" when none). Not collective. */
const char *ma_errmsg(void);

/* Replaces the recorded message (used when the ranks agree on another rank's message). Not collective. */
void ma_err_set_message(const char *msg);

/* Forgets the recorded message. Not collective. */
void ma_err_clear(void);

/* Returns from the calling function when expr fails. */
#define MA_CALL(expr)                     \
  do {                                    \
    ma_status ma_call_s_ = (expr);        \
    if (ma_call_s_ != MA_OK) return ma_call_s_; \
  } while (0)

/* Sets the caller's `st` and jumps to its `done:` cleanup label when expr fails. */
#define MA_TRY(expr)              \
  do {                            \
    st = (expr);                  \
    if (st != MA_OK) goto done;   \
  } while (0)

/* Allocation that records an out-of-memory failure: MA_ALLOC(p, count) sets st and jumps to done. */
#define MA_ALLOC(p, count)                                                                 \
  do {                                                                                     \
    size_t ma_n_ = (size_t)(count);                                                        \
    (p) = ma_n_ ? calloc(ma_n_, sizeof *(p)) : NULL;                                       \
    if (ma_n_ && !(p)) {                                                                   \
      st = ma_fail(MA_ERR_RUNTIME, "out of memory allocating %zu bytes (%s:%d)",           \
                   ma_n_ * sizeof *(p), __FILE__, __LINE__);                               \
      goto done;                                                                           \
    }                                                                                      \
  } while (0)

#endif
