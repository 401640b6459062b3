/* memaudit embed: perceptual embeddings of JPEG images (kernels/descriptor.h) written in the input
 * format. Ranks take equal slices of the image list, decode each file small (io/jpeg.c picks the DCT
 * scale), describe it, and write their rows of one file collectively. A file that cannot be decoded is
 * skipped, counted and listed in the summary (--strict: exit 3 naming it). A row depends only on its
 * file, so the result is byte-identical whatever the rank count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "io/h5out.h"
#include "io/h5strings.h"
#include "io/h5util.h"
#include "io/jpeg.h"
#include "io/summary.h"
#include "jobs/budget.h"
#include "jobs/commands.h"
#include "jobs/input.h"
#include "jobs/options.h"
#include "kernels/descriptor.h"
#include "kernels/f16.h"
#include "mpi/comm.h"

/* Limits on one file: a larger file, or one whose smallest decode holds more pixels, is skipped as
 * "too large". They bound the decoder's memory (EMBED_WORK_BYTES) whatever the input. */
#define EMBED_MAX_FILE_BYTES ((int64_t)64 << 20)
#define EMBED_MAX_PIXELS ((int64_t)1 << 22)
#define EMBED_WORK_BYTES (EMBED_MAX_FILE_BYTES + EMBED_MAX_PIXELS * 7) /* file + CMYK decode + RGB */

static const char embed_help[] =
    "usage: memaudit embed --images LIST -o OUT.h5 [options]\n\n"
    "Writes a perceptual descriptor of each JPEG image (" DESC_NAME ", 68 dimensions, unit norm: the\n"
    "centre-weighted low-frequency DCT of luminance at 32x32 without DC, and a 4x4 colour layout;\n"
    "docs/embed.md) in the input format: /embeddings, /ids (the image's position in the list, plus\n"
    "--id-offset) and /paths.\n"
    "Files that cannot be decoded are skipped and listed in the summary; their ids are not reused.\n\n"
    "  --images LIST         one image path (repeatable), or @FILE: one path a line (blank lines and\n"
    "                        # comments skipped); further arguments are image paths too\n"
    "  -o, --output PATH     the embedding file, written atomically\n"
    "  --dtype f16|f32       element type (default f32)\n"
    "  --id-offset N         the first image's id (default 0): lets several lists share one id space\n"
    "  --strict              fail (exit 3) on the first image that cannot be decoded, naming it\n"
    "  --accept-warnings     keep images that decode with a warning (usually truncated data, the\n"
    "                        missing part filled with grey); by default they are skipped as damaged\n"
    "      --summary PATH    JSON summary of the run, with every skipped file and why\n"
    "      --mem-per-rank SIZE  memory budget per rank (512M, 4G)\n"
    "  -q, --quiet / -v, --verbose  less / more progress on stderr\n";

enum { OPT_IMAGES = OPT_COMMAND, OPT_DTYPE, OPT_ID_OFFSET, OPT_STRICT, OPT_ACCEPT_WARNINGS };

typedef struct embed_cfg {
  ma_opts common; /* common.inputs holds the image paths */
  int f16;
  int64_t id_offset;
  int strict;
  int accept_warnings;
} embed_cfg;

static ma_status parse(int argc, char **argv, embed_cfg *c)
{
  static const struct option longopts[] = {MA_COMMON_LONG,
                                            {"images", required_argument, 0, OPT_IMAGES},
                                            {"dtype", required_argument, 0, OPT_DTYPE},
                                            {"id-offset", required_argument, 0, OPT_ID_OFFSET},
                                            {"strict", no_argument, 0, OPT_STRICT},
                                            {"accept-warnings", no_argument, 0, OPT_ACCEPT_WARNINGS},
                                            {0, 0, 0, 0}};
  int opt, handled;
  opts_init(&c->common);
  opts_reset();
  while ((opt = getopt_long(argc, argv, MA_COMMON_SHORT, longopts, NULL)) != -1) {
    switch (opt) {
    case 'i': return ma_fail(MA_ERR_USAGE, "embed reads images: name them with --images (-i is for embeddings)");
    case OPT_WORKDIR: return ma_fail(MA_ERR_USAGE, "embed keeps no checkpoints: drop --workdir");
    case OPT_DROP_INVALID: return ma_fail(MA_ERR_USAGE, "embed has no rows to drop: undecodable images are skipped");
    default: break;
    }
    MA_CALL(opts_common(&c->common, opt, optarg, &handled));
    if (handled) continue;
    switch (opt) {
    case OPT_IMAGES: MA_CALL(opts_add_input(&c->common, optarg)); break;
    case OPT_ID_OFFSET: MA_CALL(opts_int64(optarg, "--id-offset", 0, INT64_MAX / 2, &c->id_offset)); break;
    case OPT_STRICT: c->strict = 1; break;
    case OPT_ACCEPT_WARNINGS: c->accept_warnings = 1; break;
    case OPT_DTYPE:
      if (!strcmp(optarg, "f16") || !strcmp(optarg, "float16")) c->f16 = 1;
      else if (!strcmp(optarg, "f32") || !strcmp(optarg, "float32")) c->f16 = 0;
      else return ma_fail(MA_ERR_USAGE, "--dtype takes f16 or f32, not '%s'", optarg);
      break;
    default: return opts_unknown("embed", argc, argv);
    }
  }
  if (c->common.help) return MA_OK;
  for (; optind < argc; optind++) MA_CALL(opts_add_input(&c->common, argv[optind]));
  if (!c->common.output) return ma_fail(MA_ERR_USAGE, "embed needs -o OUT.h5");
  if (c->common.ninputs == 0) return ma_fail(MA_ERR_USAGE, "embed needs --images LIST");
  return MA_OK;
}

/* A file that was skipped: fixed size, so the ranks can gather them for the summary. */
typedef struct embed_skip {
  int64_t index; /* position in the list */
  int32_t defect;
  char detail[236];
} embed_skip;

/* This rank's slice [lo, hi) of the list and what came of it. */
typedef struct embed_slice {
  int64_t lo, hi;
  int64_t count; /* rows: images decoded */
  float *vec;    /* count x DESC_DIM; narrowed to half in place for --dtype f16 */
  int64_t *ids;
  const char **paths; /* views of the list */
  embed_skip *skips;
  int64_t nskips;
  double source_pixels, decoded_pixels, seconds;
} embed_slice;

static void embed_slice_free(embed_slice *s)
{
  free(s->vec);
  free(s->ids);
  free(s->paths);
  free(s->skips);
  memset(s, 0, sizeof *s);
}

/* Decodes and describes the slice's images. Under --strict the first defect fails with MA_ERR_DATA. */
static ma_status describe_slice(const embed_cfg *c, embed_slice *s)
{
  ma_status st = MA_OK;
  jpeg_codec *codec = NULL;
  int64_t n = s->hi - s->lo;
  double t0 = log_now();
  jpeg_limits lim = {.min_side = DESC_MIN_SIDE, .max_file_bytes = EMBED_MAX_FILE_BYTES,
                     .max_pixels = EMBED_MAX_PIXELS, .accept_warnings = c->accept_warnings};
  MA_ALLOC(s->vec, n * DESC_DIM + 1);
  MA_ALLOC(s->ids, n + 1);
  MA_ALLOC(s->paths, n + 1);
  MA_ALLOC(s->skips, n + 1);
  MA_TRY(jpeg_codec_new(&codec));
  for (int64_t i = s->lo; i < s->hi; i++) {
    const char *path = c->common.inputs[i];
    img_rgb img;
    int fw = 0, fh = 0;
    jpeg_defect defect;
    embed_skip *k = &s->skips[s->nskips];
    MA_TRY(jpeg_decode_file(codec, path, &lim, &img, &fw, &fh, &defect, k->detail, sizeof k->detail));
    if (defect != JPEG_OK) {
      if (c->strict)
        MA_TRY(ma_fail(MA_ERR_DATA, "%s: %s: %s (--strict stops at the first image that cannot be embedded)", path,
                       jpeg_defect_name(defect), k->detail));
      k->index = i;
      k->defect = (int32_t)defect;
      s->nskips++;
      log_verbose("skipped %s: %s: %s", path, jpeg_defect_name(defect), k->detail);
    } else {
      desc_compute(img.px, img.w, img.h, s->vec + s->count * DESC_DIM);
      s->ids[s->count] = c->id_offset + i;
      s->paths[s->count] = path;
      s->count++;
      s->source_pixels += (double)fw * fh;
      s->decoded_pixels += (double)img.w * img.h;
    }
    log_progress(i - s->lo + 1, n);
  }
done:
  s->seconds = log_now() - t0;
  jpeg_codec_free(&codec);
  return st;
}

/* The list's bytes on every rank, and this rank's rows and decoder. */
static int64_t embed_need(const embed_cfg *c, int64_t slice)
{
  int64_t list = 0;
  for (int i = 0; i < c->common.ninputs; i++) list += (int64_t)strlen(c->common.inputs[i]) + 1 + (int64_t)sizeof(char *);
  return list + slice * (DESC_DIM * 4 + 16 + (int64_t)sizeof(embed_skip)) + EMBED_WORK_BYTES;
}

static ma_status write_result(MPI_Comm comm, const embed_cfg *c, embed_slice *s, int64_t n, int64_t offset,
                              int64_t skipped, int argc, char **argv)
{
  ma_status st = MA_OK;
  h5out *o = NULL;
  hid_t ftype = -1;
  char *cmdline = job_command_line("embed", argc, argv);
  if (!cmdline) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  if (c->f16) {
    MA_H5_TRY(ftype = h5_half_type());
    f32_to_f16(s->vec, (uint16_t *)s->vec, s->count * DESC_DIM); /* narrows in place, front to back */
  } else {
    MA_H5_TRY(ftype = H5Tcopy(H5T_IEEE_F32LE));
  }
  MA_TRY(h5out_create(comm, c->common.output, &o));
  MA_TRY(h5out_write(o, "/embeddings", ftype, c->f16 ? ftype : H5T_NATIVE_FLOAT, n, DESC_DIM, offset, s->count,
                     s->vec, 1));
  MA_TRY(h5out_write(o, "/ids", H5T_STD_I64LE, H5T_NATIVE_INT64, n, 0, offset, s->count, s->ids, 1));
  MA_TRY(h5out_write_strings(o, "/paths", n, offset, s->count, s->paths, NULL));
  MA_TRY(h5out_attr_str(o, "/", "descriptor", DESC_NAME));
  MA_TRY(h5out_attr_i64(o, "/", "descriptor_version", DESC_VERSION));
  MA_TRY(h5out_attr_i64(o, "/", "dim", DESC_DIM));
  MA_TRY(h5out_attr_i64(o, "/", "n", n));
  MA_TRY(h5out_attr_i64(o, "/", "images", c->common.ninputs));
  MA_TRY(h5out_attr_i64(o, "/", "skipped", skipped));
  MA_TRY(h5out_attr_i64(o, "/", "id_offset", c->id_offset));
  MA_TRY(h5out_attr_str(o, "/", "version", MEMAUDIT_VERSION));
  MA_TRY(h5out_attr_str(o, "/", "command_line", cmdline));
  MA_TRY(h5out_commit(&o));
done:
  h5out_abort(&o);
  h5_close(&ftype);
  free(cmdline);
  return st;
}

/* Logs the skipped files (the first few) and lists them all in the summary. */
static json_t *skipped_json(const embed_cfg *c, const embed_skip *all, int64_t nall)
{
  json_t *list = json_array();
  for (int64_t k = 0; k < nall; k++) {
    const embed_skip *e = &all[k];
    const char *path = c->common.inputs[e->index], *why = jpeg_defect_name((jpeg_defect)e->defect);
    if (k < 10) log_info("skipped %s: %s: %s", path, why, e->detail);
    else if (k == 10) log_info("... and %lld more skipped files (all in the summary)", (long long)(nall - 10));
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(c->id_offset + e->index));
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "reason", json_string(why));
    json_object_set_new(o, "detail", json_string(e->detail));
    json_array_append_new(list, o);
  }
  return list;
}

ma_status cmd_embed(MPI_Comm comm, int argc, char **argv)
{
  ma_status st = MA_OK;
  embed_cfg c;
  embed_slice s = {0};
  json_t *sum = NULL;
  int64_t *counts = NULL, ncounts = 0, nall = 0;
  embed_skip *all = NULL;
  int rank, nranks;
  memset(&c, 0, sizeof c);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  MA_MPI_TRY(MPI_Comm_size(comm, &nranks));
  /* agreed: the list is read by every rank, and one of them may fail to */
  MA_TRY(mpi_agree(comm, parse(argc, argv, &c)));
  log_init(rank, c.common.verbosity);
  if (c.common.help) {
    if (rank == 0) fputs(embed_help, stdout);
    goto done;
  }
  paths p = {0};
  opts_paths(&c.common, "--images", &p);
  MA_TRY(paths_check(comm, &p));
  int64_t images = c.common.ninputs, budget, most;
  const char *source;
  shard_range(images, nranks, rank, &s.lo, &s.hi);
  MA_TRY(budget_resolve(comm, c.common.mem_per_rank, &budget, &source));
  MA_TRY(mpi_max_i64(comm, embed_need(&c, s.hi - s.lo), &most));
  MA_TRY(budget_check(budget, most, "embedding the images"));
  log_info("embedding %lld images on %d ranks: %s, %d dimensions, %s", (long long)images, nranks, DESC_NAME,
           DESC_DIM, c.f16 ? "float16" : "float32");

  log_phase_begin("decode+describe");
  MA_TRY(mpi_agree(comm, describe_slice(&c, &s)));
  log_phase_begin("write");
  MA_TRY(mpi_allgather_records(comm, &s.count, 1, sizeof s.count, (void **)&counts, &ncounts));
  MA_TRY(mpi_allgather_records(comm, s.skips, s.nskips, sizeof *s.skips, (void **)&all, &nall));
  int64_t n = 0, offset = 0;
  for (int r = 0; r < nranks; r++) {
    if (r < rank) offset += counts[r];
    n += counts[r];
  }
  if (n == 0)
    MA_TRY(ma_fail(MA_ERR_DATA, "none of the %lld images could be embedded (%s: %s: %s)", (long long)images,
                   c.common.inputs[all[0].index], jpeg_defect_name((jpeg_defect)all[0].defect), all[0].detail));
  MA_TRY(write_result(comm, &c, &s, n, offset, nall, argc, argv));
  log_phase_end();

  double local[3] = {s.seconds, s.source_pixels, s.decoded_pixels}, slowest, pixels[2];
  MA_MPI_TRY(MPI_Allreduce(local, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm));
  MA_MPI_TRY(MPI_Allreduce(local + 1, pixels, 2, MPI_DOUBLE, MPI_SUM, comm));
  double rate = slowest > 0 ? (double)images / nranks / slowest : 0;
  log_info("embedded %lld of %lld images: %.0f images/s per rank, decoded at %.1f%% of the stored pixels; skipped %lld",
           (long long)n, (long long)images, rate, pixels[0] > 0 ? 100 * pixels[1] / pixels[0] : 0, (long long)nall);
  sum = summary_new("embed");
  json_object_set_new(sum, "descriptor", json_string(DESC_NAME));
  json_object_set_new(sum, "descriptor_version", json_integer(DESC_VERSION));
  json_object_set_new(sum, "dtype", json_string(c.f16 ? "float16" : "float32"));
  json_object_set_new(sum, "images", json_integer(images));
  json_object_set_new(sum, "embedded", json_integer(n));
  json_object_set_new(sum, "skipped_count", json_integer(nall));
  /* only rank 0 writes the summary and logs: the others need not build the list */
  json_object_set_new(sum, "skipped", skipped_json(&c, all, rank == 0 ? nall : 0));
  json_object_set_new(sum, "images_per_second_per_rank", json_real(rate));
  json_object_set_new(sum, "source_megapixels", json_real(pixels[0] / 1e6));
  json_object_set_new(sum, "decoded_megapixels", json_real(pixels[1] / 1e6));
  MA_TRY(summary_write(comm, sum, c.common.summary, n, DESC_DIM));
  log_info("wrote %s", c.common.output);
done:
  json_decref(sum);
  free(counts);
  free(all);
  embed_slice_free(&s);
  opts_free(&c.common);
  return st;
}
