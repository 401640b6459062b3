/* The interruption flag. */
#include "core/signal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t sig_seen;

static void on_signal(int s) { sig_seen = s; }

void sig_install(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int sig_pending(void) { return sig_seen != 0; }

int sig_which(void) { return (int)sig_seen; }

int sig_pause_wanted(const char *phase)
{
  const char *want = getenv("MEMAUDIT_PAUSE_AT");
  return want && strcmp(want, phase) == 0;
}

void sig_pause(void)
{
  struct timespec tick = {0, 20 * 1000 * 1000};
  for (int i = 0; i < 3000 && !sig_seen; i++) nanosleep(&tick, NULL);
}
