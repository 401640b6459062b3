/* Interruption: SIGUSR1 (Slurm's warning before a time limit or preemption) and SIGTERM only set a
 * flag. Jobs look at it at safe points, after a checkpoint, where the ranks agree and leave with exit
 * code 75; a rerun with the same --workdir resumes. A second signal while saving only sets the flag
 * again, and every checkpoint file is written atomically, so it cannot corrupt the work directory. */
#ifndef MA_SIGNAL_H
#define MA_SIGNAL_H

/* Installs the handlers (jobs do when they have a --workdir to save to). Not collective. */
void sig_install(void);

/* Nonzero once SIGUSR1 or SIGTERM arrived. Not collective. */
int sig_pending(void);

/* The signal that arrived (0 if none). Not collective. */
int sig_which(void);

/* Test hook: whether the environment variable MEMAUDIT_PAUSE_AT names this phase, and the wait (at most
 * 60 s) until a signal arrives, so that a test can interrupt a run inside a given phase. Not collective. */
int sig_pause_wanted(const char *phase);
void sig_pause(void);

#endif
