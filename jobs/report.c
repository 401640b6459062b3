/* memaudit report: a self-contained HTML folder (inline SVG charts, JPEG contact sheets) from a dedup
 * or audit result. A result is a summary, so rank 0 does all the work; other ranks only join the final
 * agreement. Every dataset is streamed in chunks and only what is shown is kept, so the report of a
 * result with a hundred million rows needs memory for its pages, not for the rows. */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "io/h5util.h"
#include "io/html.h"
#include "io/report/folder.h"
#include "io/report/h5read.h"
#include "io/report/pages.h"
#include "io/report/section.h"
#include "io/sheet.h"
#include "jobs/commands.h"
#include "jobs/options.h"
#include "mpi/comm.h"

static const char report_help[] =
    "usage: memaudit report RESULT.h5 -o DIR [options]\n\n"
    "Writes DIR/index.html and its pages: a self-contained folder (no network, no scripts) with charts\n"
    "as inline SVG and, given the image paths, contact sheets as JPEG. RESULT is a dedup result (pair\n"
    "similarities, group sizes, cluster sizes, recall; the largest groups and the pairs closest to the\n"
    "threshold) or an audit result (nearest similarity of the samples against the holdout or baseline,\n"
    "flagged count by threshold; each flagged sample beside its nearest training items). DIR appears\n"
    "whole or not at all; an existing report there is replaced, any other non-empty directory refused.\n\n"
    "  -o, --output DIR                 the report folder\n"
    "      --images PATH[:DATASET]      id -> image path for the items of the result (dedup) or the\n"
    "                                   training set (audit): a file with /ids and a string dataset\n"
    "                                   (default /paths), as embed writes; repeatable (shards in order,\n"
    "                                   @LIST: one a line); without /ids, ids are row numbers\n"
    "      --generated-images PATH[:DATASET]  the same for the generated samples (audit)\n"
    "      --image-root DIR             relative image paths are taken relative to DIR (default: as they\n"
    "                                   are, i.e. to the current directory)\n"
    "      --per-page N                 groups, pairs or samples per page (default 50)\n"
    "      --max-pages N                pages per list at most (default 20); the rest is counted, not shown\n"
    "      --group-members N            dedup: items shown per group (default 12)\n"
    "      --neighbors N                audit: nearest training items shown per sample (default 10)\n"
    "      --borderline N               dedup: the N pairs closest to the threshold; audit: the N unflagged\n"
    "                                   samples closest below it (default 100; 0: none)\n"
    "      --thumb PX                   thumbnail size in pixels (default 128)\n"
    "  -q, --quiet / -v, --verbose      less / more progress on stderr\n";

enum {
  OPT_IMAGES = OPT_COMMAND,
  OPT_GEN_IMAGES,
  OPT_IMAGE_ROOT,
  OPT_PER_PAGE,
  OPT_MAX_PAGES,
  OPT_MEMBERS,
  OPT_NEIGHBORS,
  OPT_BORDERLINE,
  OPT_THUMB
};

enum { JPEG_MAX_SIDE = 65000 };

typedef struct report_cfg {
  const char *result, *outdir, *image_root;
  ma_opts images, gen_images; /* only their input lists are used */
  report_opts o; /* what shapes the pages (io/report/section.h) */
  int verbosity, help;
} report_cfg;

static ma_status parse(int argc, char **argv, report_cfg *c)
{
  static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                            {"quiet", no_argument, 0, 'q'},
                                            {"verbose", no_argument, 0, 'v'},
                                            {"help", no_argument, 0, 'h'},
                                            {"images", required_argument, 0, OPT_IMAGES},
                                            {"generated-images", required_argument, 0, OPT_GEN_IMAGES},
                                            {"image-root", required_argument, 0, OPT_IMAGE_ROOT},
                                            {"per-page", required_argument, 0, OPT_PER_PAGE},
                                            {"max-pages", required_argument, 0, OPT_MAX_PAGES},
                                            {"group-members", required_argument, 0, OPT_MEMBERS},
                                            {"neighbors", required_argument, 0, OPT_NEIGHBORS},
                                            {"borderline", required_argument, 0, OPT_BORDERLINE},
                                            {"thumb", required_argument, 0, OPT_THUMB},
                                            {0, 0, 0, 0}};
  int opt;
  opts_init(&c->images);
  opts_init(&c->gen_images);
  c->o.per_page = 50;
  c->o.max_pages = 20;
  c->o.members = 12;
  c->o.neighbors = 10;
  c->o.borderline = 100;
  c->o.thumb = 128;
  c->verbosity = LOG_NORMAL;
  opts_reset();
  while ((opt = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'o': c->outdir = optarg; break;
    case 'q': c->verbosity = LOG_QUIET; break;
    case 'v': c->verbosity = LOG_VERBOSE; break;
    case 'h': c->help = 1; break;
    case OPT_IMAGES: MA_CALL(opts_add_input(&c->images, optarg)); break;
    case OPT_GEN_IMAGES: MA_CALL(opts_add_input(&c->gen_images, optarg)); break;
    case OPT_IMAGE_ROOT: c->image_root = optarg; break;
    case OPT_PER_PAGE: MA_CALL(opts_int64(optarg, "--per-page", 1, 500, &c->o.per_page)); break;
    case OPT_MAX_PAGES: MA_CALL(opts_int64(optarg, "--max-pages", 1, 10000, &c->o.max_pages)); break;
    case OPT_MEMBERS: MA_CALL(opts_int64(optarg, "--group-members", 2, 200, &c->o.members)); break;
    case OPT_NEIGHBORS: MA_CALL(opts_int64(optarg, "--neighbors", 1, 200, &c->o.neighbors)); break;
    case OPT_BORDERLINE: MA_CALL(opts_int64(optarg, "--borderline", 0, 100000, &c->o.borderline)); break;
    case OPT_THUMB: MA_CALL(opts_int64(optarg, "--thumb", 32, 512, &c->o.thumb)); break;
    default: return opts_unknown("report", argc, argv);
    }
  }
  if (c->help) return MA_OK;
  if (optind >= argc)
    return ma_fail(MA_ERR_USAGE, "usage: memaudit report RESULT.h5 -o DIR [options] (see memaudit report --help)");
  c->result = argv[optind++];
  if (optind < argc) return ma_fail(MA_ERR_USAGE, "report takes one result file, not '%s' as well", argv[optind]);
  if (!c->outdir) return ma_fail(MA_ERR_USAGE, "report needs -o DIR (the report folder)");
  /* a contact sheet is one JPEG of (cells in a row) x (rows on a page) thumbnails */
  int64_t cols = c->o.members > c->o.neighbors + 1 ? c->o.members : c->o.neighbors + 1;
  if (c->o.per_page * c->o.thumb > JPEG_MAX_SIDE || cols * c->o.thumb > JPEG_MAX_SIDE)
    return ma_fail(MA_ERR_USAGE, "a contact sheet of %lld x %lld thumbnails of %lld px exceeds JPEG's %d px: lower "
                   "--per-page, --group-members, --neighbors or --thumb", (long long)cols, (long long)c->o.per_page,
                   (long long)c->o.thumb, JPEG_MAX_SIDE);
  return MA_OK;
}

/* ---- the command ---- */

static ma_status lookup_images(report *r, const report_cfg *cfg)
{
  int64_t ntrain = 0, ngen = 0, *train = NULL, *gen = NULL;
  ma_status st = MA_OK;
  int64_t total = 0;
  for (int i = 0; i < r->nsec; i++) total += r->sec[i].ncells;
  MA_ALLOC(train, total + 1);
  MA_ALLOC(gen, total + 1);
  for (int i = 0; i < r->nsec; i++)
    for (int64_t c = 0; c < r->sec[i].ncells; c++) {
      const cell *ce = &r->sec[i].cells[c];
      if (ce->generated) gen[ngen++] = ce->id;
      else train[ntrain++] = ce->id;
    }
  if (cfg->images.ninputs) {
    log_phase_begin("image paths");
    MA_TRY(sheet_paths_lookup(cfg->images.inputs, cfg->images.ninputs, cfg->image_root, train, ntrain,
                              &r->train));
    r->have_train = 1;
    log_verbose("--images: %lld of %lld ids have a path", (long long)r->train.found, (long long)r->train.n);
  }
  if (cfg->gen_images.ninputs && ngen) {
    MA_TRY(sheet_paths_lookup(cfg->gen_images.inputs, cfg->gen_images.ninputs, cfg->image_root, gen, ngen,
                              &r->gen));
    r->have_gen = 1;
    log_verbose("--generated-images: %lld of %lld ids have a path", (long long)r->gen.found, (long long)r->gen.n);
  }
  for (int i = 0; i < r->nsec; i++)
    for (int64_t c = 0; c < r->sec[i].ncells; c++) r->tiles += rp_cell_paths(r, &r->sec[i].cells[c]) != NULL;
done:
  free(train);
  free(gen);
  return st;
}

static ma_status report_run(const report_cfg *cfg)
{
  ma_status st = MA_OK;
  report r = {.cfg = &cfg->o, .file = cfg->result, .f = -1};
  int kind = 0;
  MA_TRY(rp_folder_check(cfg->outdir));
  if (access(cfg->result, R_OK) != 0)
    MA_TRY(ma_fail(MA_ERR_DATA, "cannot open %s: %s", cfg->result, strerror(errno)));
  if (H5Fis_hdf5(cfg->result) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    MA_TRY(ma_fail(MA_ERR_DATA, "%s is not an HDF5 file", cfg->result));
  }
  if ((r.f = H5Fopen(cfg->result, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
    MA_TRY(h5_fail(MA_ERR_DATA, "cannot open %s", cfg->result));
  if (rp_has(r.f, "/pairs") && rp_has(r.f, "/keep") && rp_has(r.f, "/representative")) kind = 1;
  else if (rp_has(r.f, "/neighbors") && rp_has(r.f, "/similarity") && rp_has(r.f, "/flagged")) kind = 2;
  else
    MA_TRY(ma_fail(MA_ERR_DATA, "%s is neither a dedup result (/pairs, /keep, /representative) nor an audit result "
                   "(/neighbors, /similarity, /flagged)", cfg->result));
  MA_TRY(rp_folder_tmp(cfg->outdir, &r.tmpdir));
  log_info("report of the %s result %s", kind == 1 ? "dedup" : "audit", cfg->result);
  MA_TRY(kind == 1 ? rp_dedup_page(&r) : rp_audit_page(&r));
  MA_TRY(lookup_images(&r, cfg));

  log_phase_begin("contact sheets and pages");
  const char *title = kind == 1 ? "memaudit dedup report" : "memaudit audit report";
  for (int i = 0; i < r.nsec; i++) MA_TRY(rp_write_section(&r, &r.sec[i], title));
  if (!cfg->images.ninputs || (kind == 2 && !cfg->gen_images.ninputs))
    hb_puts(&r.index, kind == 1 ? "<p class=\"note\" id=\"no-images\">Contact sheets need the image paths: run "
                                  "report with <code>--images EMBED.h5</code> (the embed output, with /ids and /paths)."
                                  "</p>\n"
                                : "<p class=\"note\" id=\"no-images\">Contact sheets need the image paths: run report "
                                  "with <code>--images TRAIN_EMBED.h5</code> for the training images and "
                                  "<code>--generated-images GENERATED_EMBED.h5</code> for the samples (embed outputs, "
                                  "with /ids and /paths).</p>\n");
  for (int i = 0; i < r.nsec; i++) rp_section_preview(&r, &r.sec[i]);
  html_end(&r.index);
  MA_TRY(rp_write_file(&r, "index.html", &r.index));
  MA_TRY(rp_folder_commit(r.tmpdir, cfg->outdir));
  log_phase_end();
  if (r.tiles_missing)
    log_info("%lld of %lld pictures were missing or unreadable (grey placeholders)", (long long)r.tiles_missing,
             (long long)r.tiles);
  log_info("wrote %s/index.html (%d list%s, %lld pictures)", cfg->outdir, r.nsec, r.nsec == 1 ? "" : "s",
           (long long)r.tiles);
done:
  if (st != MA_OK && r.tmpdir) rp_folder_remove(r.tmpdir);
  free(r.tmpdir);
  h5_close(&r.f);
  sheet_paths_free(&r.train);
  sheet_paths_free(&r.gen);
  for (int i = 0; i < r.nsec; i++) section_free(&r.sec[i]);
  hb_free(&r.index);
  return st;
}

/* Every rank but 0 waits here while rank 0 writes the report, sleeping rather than spinning in a
 * collective (they may share its node). Collective on comm. */
static ma_status wait_for_rank0(MPI_Comm comm)
{
  MPI_Request req;
  int arrived = 0;
  MA_MPI(MPI_Ibarrier(comm, &req));
  for (;;) {
    MA_MPI(MPI_Test(&req, &arrived, MPI_STATUS_IGNORE));
    if (arrived) return MA_OK;
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  }
}

ma_status cmd_report(MPI_Comm comm, int argc, char **argv)
{
  ma_status st = MA_OK;
  report_cfg c;
  int rank;
  memset(&c, 0, sizeof c);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  st = parse(argc, argv, &c);
  if (st == MA_OK && !c.help) {
    paths p = {0};
    paths_add_in(&p, "RESULT", c.result);
    opts_paths_inputs(&c.images, "--images", &p);
    opts_paths_inputs(&c.gen_images, "--generated-images", &p);
    paths_add_in(&p, "--image-root", c.image_root);
    paths_add_out(&p, "-o", c.outdir, PATHS_FOLDER);
    st = paths_check(comm, &p);
  }
  if (st == MA_OK) {
    log_init(rank, c.verbosity);
    if (c.help) {
      if (rank == 0) fputs(report_help, stdout);
    } else if (rank == 0) {
      st = report_run(&c);
    }
  }
  ma_status waited = wait_for_rank0(comm);
  st = mpi_agree(comm, st != MA_OK ? st : waited);
done:
  opts_free(&c.images);
  opts_free(&c.gen_images);
  return st;
}
