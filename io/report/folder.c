/* The report folder (see io/report/folder.h). */
#include "io/report/folder.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "io/h5util.h"
#include "io/html.h"
#include "io/report/charts.h"
#include "io/report/h5read.h"
#include "io/report/hist.h"
#include "io/report/idmap.h"
#include "io/report/section.h"
#include "io/sheet.h"
#include "io/svg.h"

/* ---- the output folder ---- */

static int is_report_file(const char *name)
{
  size_t n = strlen(name);
  return (n > 5 && !strcmp(name + n - 5, ".html")) || (n > 4 && !strcmp(name + n - 4, ".jpg"));
}

/* DIR may be written when it does not exist, is empty, or holds a memaudit report and nothing else. */
ma_status rp_folder_check(const char *dir)
{
  struct stat sb;
  if (stat(dir, &sb) != 0) return MA_OK;
  if (!S_ISDIR(sb.st_mode)) return ma_fail(MA_ERR_USAGE, "-o %s exists and is not a directory", dir);
  DIR *dd = opendir(dir);
  if (!dd) return ma_fail(MA_ERR_RUNTIME, "cannot read the directory %s: %s", dir, strerror(errno));
  ma_status st = MA_OK;
  int entries = 0;
  struct dirent *e;
  while (st == MA_OK && (e = readdir(dd))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    entries++;
    if (!is_report_file(e->d_name))
      st = ma_fail(MA_ERR_USAGE, "-o %s is not a memaudit report folder (it holds %s): give a new or empty directory",
                   dir, e->d_name);
  }
  closedir(dd);
  if (st != MA_OK || entries == 0) return st;
  char *index = rp_join(dir, "index.html"), head[2048] = "";
  FILE *f = index ? fopen(index, "r") : NULL;
  if (f) {
    size_t got = fread(head, 1, sizeof head - 1, f);
    head[got] = '\0';
    fclose(f);
  }
  free(index);
  if (!strstr(head, HTML_GENERATOR))
    return ma_fail(MA_ERR_USAGE, "-o %s is not a memaudit report folder (no index.html written by memaudit report): "
                   "give a new or empty directory", dir);
  return MA_OK;
}

/* Removes the files of a folder this command wrote (flat: no subfolders), then the folder. */
void rp_folder_remove(const char *dir)
{
  DIR *dd = opendir(dir);
  if (!dd) return;
  struct dirent *e;
  while ((e = readdir(dd))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *p = rp_join(dir, e->d_name);
    if (p) unlink(p);
    free(p);
  }
  closedir(dd);
  rmdir(dir);
}

ma_status rp_folder_tmp(const char *dir, char **tmp)
{
  size_t n = strlen(dir) + 16;
  while (n > 16 && dir[n - 17] == '/') n--;
  *tmp = malloc(n + 1);
  if (!*tmp) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  snprintf(*tmp, n + 1, "%.*s.tmp-XXXXXX", (int)(n - 16), dir);
  if (!mkdtemp(*tmp)) {
    ma_status st = ma_fail(MA_ERR_RUNTIME, "cannot create a folder beside %s: %s", dir, strerror(errno));
    free(*tmp);
    *tmp = NULL;
    return st;
  }
  chmod(*tmp, 0755);
  return MA_OK;
}

/* Puts the finished folder in place of dir; an old report there is removed once the new one is in. */
ma_status rp_folder_commit(const char *tmp, const char *dir)
{
  struct stat sb;
  if (stat(dir, &sb) != 0) {
    if (rename(tmp, dir) != 0) return ma_fail(MA_ERR_RUNTIME, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    return MA_OK;
  }
  size_t n = strlen(tmp) + 8;
  char *old = malloc(n);
  if (!old) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  snprintf(old, n, "%s.old", tmp);
  ma_status st = MA_OK;
  if (rename(dir, old) != 0)
    st = ma_fail(MA_ERR_RUNTIME, "cannot move the old report %s aside: %s", dir, strerror(errno));
  else if (rename(tmp, dir) != 0) {
    st = ma_fail(MA_ERR_RUNTIME, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    rename(old, dir);
  } else {
    rp_folder_remove(old);
  }
  free(old);
  return st;
}

