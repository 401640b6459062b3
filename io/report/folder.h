/* The report folder: written beside its target and put in place whole; an existing folder is replaced
 * only when it holds a memaudit report. */
#ifndef MA_IO_REPORT_FOLDER_H
#define MA_IO_REPORT_FOLDER_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* DIR may be written when it does not exist, is empty, or holds a memaudit report and nothing else. */
ma_status rp_folder_check(const char *dir);

/* Removes the files of a folder this command wrote (flat: no subfolders), then the folder. */
void rp_folder_remove(const char *dir);

/* Makes the empty folder the report is written into, beside dir ("DIR.tmp-XXXXXX"); *tmp gets its name. */
ma_status rp_folder_tmp(const char *dir, char **tmp);

/* Puts the finished folder in place of dir; an old report there is removed once the new one is in. */
ma_status rp_folder_commit(const char *tmp, const char *dir);

#endif
