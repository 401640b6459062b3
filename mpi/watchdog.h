/* The watchdog: ends the job when a rank falls silent (its host died, or its network broke).
 *
 * A rank whose peer vanished without a word can wait in a collective forever: when a host's link is cut,
 * no TCP reset ever arrives, and neither Open MPI nor the launcher learns of it for minutes or hours. So
 * each rank runs a thread that exchanges a small heartbeat with rank 0 every W/4 seconds on a
 * communicator of its own, whatever the main thread is doing (computing, reading, or blocked in MPI).
 * When rank 0 has heard nothing from some ranks for W seconds, it prints one line naming the phase, the
 * silent ranks and their hosts, and calls MPI_Abort(MPI_COMM_WORLD, 1): the launcher then ends every
 * rank. A rank that hears nothing from rank 0 for W + W/2 seconds does the same (rank 0's own host is
 * the lost one). This MPI_Abort is the only exit from parallel code outside main (docs/errors.md).
 *
 * W is MEMAUDIT_WATCHDOG (seconds; default 60; 0 turns the watchdog off). Heartbeats only prove that a
 * rank's process and its network are alive: a slow phase or an uneven one never trips it, and a rank
 * that is alive but stuck (a hung file system) is not caught. It needs MPI_THREAD_MULTIPLE; with one
 * rank, or when the MPI library does not provide that, there is no watchdog. */
#ifndef MA_MPI_WATCHDOG_H
#define MA_MPI_WATCHDOG_H

#include <mpi.h>

#include "core/status.h"

/* MEMAUDIT_WATCHDOG in seconds (0: off); a value that is not a number of seconds >= 0 is a usage
 * error. Not collective. */
ma_status wd_seconds(double *seconds);

/* Starts the watchdog over comm with W = seconds (nothing when seconds is 0, comm has one rank, or
 * `thread_level` is below MPI_THREAD_MULTIPLE). Collective on comm. */
ma_status wd_start(MPI_Comm comm, double seconds, int thread_level);

/* Stops it, once every rank has come here (while they come, it still watches). Collective on the comm
 * wd_start was given; nothing when it did not start. */
void wd_stop(void);

#endif
