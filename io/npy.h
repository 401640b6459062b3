/* NumPy .npy embedding files (format 1.0, 2.0 and 3.0): the header parsed and checked once, on one
 * rank, and the body read in parallel with MPI-IO at its offset.
 *
 * What is accepted is what clip-retrieval, autofaiss and np.save write for an embedding matrix: a
 * 2-D array in C order of little-endian float16 ('<f2') or float32 ('<f4'). Anything else (Fortran
 * order, another dtype, 1-D or 3-D, a body shorter or longer than the header says) is MA_ERR_DATA with
 * one message naming the file. */
#ifndef MA_IO_NPY_H
#define MA_IO_NPY_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct npy_header {
  int major, minor;   /* format version */
  int64_t rows, cols; /* the shape */
  int esize;          /* 2: '<f2', 4: '<f4' */
  int64_t body;       /* byte offset of the first element */
} npy_header;

/* Whether the n bytes at buf begin with the .npy magic ("\x93NUMPY"). Not collective. */
int npy_magic(const unsigned char *buf, size_t n);

/* Parses the n first bytes of a file (the prelude and the whole header) into h; MA_ERR_DATA naming
 * path and what is wrong (too short, unknown version, not a dict, dtype, order, number of dimensions).
 * Not collective. */
ma_status npy_parse(const char *path, const unsigned char *buf, size_t n, npy_header *h);

/* Whether the file at path begins with the .npy magic (0 when it cannot be read). Not collective. */
int npy_is_npy(const char *path);

/* Reads and parses path's header, then checks that the file's size is exactly what the header says
 * (a truncated body, or a header that lies about the shape, is MA_ERR_DATA). Not collective: rank 0
 * calls it and shares the result. */
ma_status npy_probe(const char *path, npy_header *h);

/* Reads rows [a, b) of rowbytes bytes each, the body starting at byte `body`, into out, with
 * MPI_File_read_at_all in pieces of at most piece_rows rows; every rank makes the same number of
 * calls (a rank with a == b reads nothing but joins each). Collective on comm. */
ma_status npy_read_rows(MPI_Comm comm, const char *path, int64_t body, int64_t rowbytes, int64_t a, int64_t b,
                        int64_t piece_rows, void *out);

#endif
