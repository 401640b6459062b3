/* JPEG files through the TurboJPEG API of libjpeg-turbo: decoding at a scale chosen in the DCT domain,
 * so that a large photo is decoded small and fast, and encoding (for the test-image generator).
 *
 * A file that cannot be decoded is an outcome, not an error of the program: jpeg_decode_file reports it
 * as a defect with the reason, and the caller decides (embed skips it, or fails under --strict). */
#ifndef MA_IO_JPEG_H
#define MA_IO_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/image.h"

typedef enum {
  JPEG_OK = 0,
  JPEG_UNREADABLE, /* cannot be opened or read: missing, no permission, not a regular file */
  JPEG_NOT_JPEG,   /* empty, or does not begin with the JPEG start-of-image marker */
  JPEG_TOO_LARGE,  /* the file or its decoded size exceeds the limits */
  JPEG_CORRUPT,    /* the decoder stopped on an error */
  JPEG_DAMAGED     /* decoded, but with a warning (truncated or corrupt data): part of it is made up */
} jpeg_defect;

/* "unreadable", "not a JPEG", "too large", "corrupt", "damaged". Not collective. */
const char *jpeg_defect_name(jpeg_defect d);

typedef struct jpeg_limits {
  int min_side;           /* decode at the smallest DCT scale (1/8 .. 1) whose sides are both >= this */
  int64_t max_file_bytes; /* larger files are JPEG_TOO_LARGE without being read */
  int64_t max_pixels;     /* so are images whose scaled decode would hold more pixels */
  int accept_warnings;    /* 1: a decode that ends with a warning is JPEG_OK, not JPEG_DAMAGED */
} jpeg_limits;

/* A decompressor and a compressor with their buffers, reused from file to file. */
typedef struct jpeg_codec jpeg_codec;

/* Not collective. */
ma_status jpeg_codec_new(jpeg_codec **c);

/* Frees *c and sets it to NULL. Safe on NULL. Not collective. */
void jpeg_codec_free(jpeg_codec **c);

/* Reads and decodes path to RGB. On success *defect is JPEG_OK, *img views the codec's pixels (valid
 * until the next call; do not free it) and, when given, *full_w x *full_h is the stored size. Otherwise
 * *defect says what is wrong and detail holds the reason (the system's or the decoder's message).
 * Grey JPEGs come out grey in RGB; CMYK and YCCK ones are converted (Adobe's inverted convention).
 * Returns MA_ERR_RUNTIME only when memory runs out. Not collective. */
ma_status jpeg_decode_file(jpeg_codec *c, const char *path, const jpeg_limits *lim, img_rgb *img, int *full_w,
                           int *full_h, jpeg_defect *defect, char *detail, size_t detail_len);

/* Writes img to path as a baseline JPEG with 4:2:0 chroma at the given quality (1..100). Not
 * collective. */
ma_status jpeg_encode_file(jpeg_codec *c, const img_rgb *img, int quality, const char *path);

#endif
