/* The per-process error message behind ma_status. */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char err_message[1024];

ma_status ma_fail(ma_status code, const char *fmt, ...)
{
  if (err_message[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_message, sizeof err_message, fmt, ap);
    va_end(ap);
  }
  return code;
}

const char *ma_errmsg(void) { return err_message; }

void ma_err_set_message(const char *msg)
{
  snprintf(err_message, sizeof err_message, "%s", msg ? msg : "");
}

void ma_err_clear(void) { err_message[0] = '\0'; }
