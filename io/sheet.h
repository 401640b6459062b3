/* Contact sheets for the report: where an item's picture is (id -> image path, from files that hold
 * /ids and a string dataset of paths, as `embed` writes them), and thumbnails of those JPEGs tiled into
 * one JPEG per report page. A picture that is missing or cannot be decoded becomes a grey placeholder
 * tile and a defect the page shows under it; it never stops the report. */
#ifndef MA_IO_SHEET_H
#define MA_IO_SHEET_H

#include <stdint.h>

#include "core/status.h"

/* Image paths of a set of ids. */
typedef struct sheet_paths {
  int64_t n;     /* ids asked for */
  int64_t *ids;  /* sorted, distinct */
  char **paths;  /* paths[i] of ids[i], NULL when no file lists it */
  int64_t found; /* how many have a path */
} sheet_paths;

/* Looks up the paths of ids[0..nids) (any order, repeats allowed) in the files `specs` ("PATH" or
 * "PATH:DATASET", DATASET a 1-D string dataset, default "/paths", fixed- or variable-length). An id is
 * the entry of the integer dataset "ids" beside DATASET at the same row, or without one the row number
 * counted across the files in order, from 0 (the rule of the embedding inputs). The first file and row
 * that lists an id wins. Relative paths are taken relative to root when it is not NULL. Only the rows
 * asked for are read, so a file of a hundred million paths costs one pass over its ids. A missing file,
 * dataset, or a dataset of the wrong kind or length is MA_ERR_DATA naming file and dataset.
 * Not collective. */
ma_status sheet_paths_lookup(char *const *specs, int nspecs, const char *root, const int64_t *ids, int64_t nids,
                             sheet_paths *out);

/* The path of id, or NULL. Not collective. */
const char *sheet_paths_get(const sheet_paths *p, int64_t id);
void sheet_paths_free(sheet_paths *p);

/* What became of a tile's picture. */
typedef enum { SHEET_PICTURE = 0, SHEET_NO_PATH, SHEET_MISSING, SHEET_UNDECODABLE } sheet_tile_state;

/* "", "no image path", "file missing", "not a readable JPEG". Not collective. */
const char *sheet_tile_state_name(sheet_tile_state s);

/* A grid of cols x rows tiles of px x px pixels. */
typedef struct sheet sheet;

/* Not collective. */
ma_status sheet_new(int cols, int rows, int px, sheet **s);
void sheet_free(sheet **s);

/* Draws the picture at path (NULL: none known) into tile (col, row): decoded small at a DCT scale,
 * shrunk to fit px x px keeping its shape, centred on a dark background. A file that cannot be read
 * or decoded gives the grey placeholder; *state says which. Returns MA_ERR_RUNTIME only when memory
 * runs out. Not collective. */
ma_status sheet_put(sheet *s, int col, int row, const char *path, sheet_tile_state *state);

/* Writes the sheet as one JPEG (quality 85, 4:2:0). Not collective. */
ma_status sheet_write(sheet *s, const char *path);

#endif
