/* Reading a result for the report: datasets opened and checked, read in chunks, attributes as text. */
#ifndef MA_IO_REPORT_H5READ_H
#define MA_IO_REPORT_H5READ_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/report/section.h"

int rp_has(hid_t f, const char *name);

/* Opens name as a dataset of `rank` dimensions whose first is rows (when rows >= 0). Optional and
 * absent: *d = -1. */
ma_status rp_open_dset(const report *r, const char *name, int rank, int64_t rows, int optional, hid_t *d,
                           int64_t dims[2]);

/* Rows [lo, lo + count) of a 1-D dataset, or of columns [c0, c0 + nc) of a 2-D one (nc > 0). */
ma_status rp_read_part(const report *r, hid_t d, const char *name, hid_t mtype, int64_t lo, int64_t count,
                           int64_t c0, int64_t nc, void *buf);

/* A root (or object) attribute as text, "" when absent. */
void rp_attr_text(hid_t obj, const char *name, char *buf, size_t len);

ma_status rp_attr_num(const report *r, const char *name, double *v);

#endif
