/* The two page kinds of the report, each reading its result kind and filling the overview page and
 * the sections: a dedup result (io/report/dedup_page.c) or an audit result (io/report/audit_page.c). */
#ifndef MA_IO_REPORT_PAGES_H
#define MA_IO_REPORT_PAGES_H

#include "core/status.h"
#include "io/report/section.h"

/* Reads the dedup result open in r->f (streamed in chunks; only what is shown is kept), writes its
 * facts and charts into r->index and fills r->sec. Not collective (rank 0). */
ma_status rp_dedup_page(report *r);

/* The same for an audit result. Not collective (rank 0). */
ma_status rp_audit_page(report *r);

#endif
