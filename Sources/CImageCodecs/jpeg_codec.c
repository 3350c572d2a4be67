/*
 * JPEG decoding and encoding with libjpeg-turbo.
 *
 * libjpeg reports fatal errors by calling error_exit(), whose default prints
 * and calls exit().  We install an error manager whose error_exit() formats
 * the message into our buffer and longjmp()s back to the entry point, which
 * then releases everything and returns 0.  Anything that must be freed on
 * that path lives in a struct (not in non-volatile locals), so it is still
 * valid after the longjmp.
 */
#include "CImageCodecs.h"
#include "common.h"

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* ---- error manager ------------------------------------------------------ */

typedef struct cic_jpeg_error {
    struct jpeg_error_mgr base; /* must be first: libjpeg sees only this part */
    jmp_buf jump;
    char *error;
    size_t error_size;
    const char *prefix; /* "JPEG data could not be decoded" etc. */
} cic_jpeg_error;

static void cic_jpeg_fail(j_common_ptr cinfo, const char *extra) {
    cic_jpeg_error *err = (cic_jpeg_error *)cinfo->err;
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    cic_set_error(err->error, err->error_size, "%s: %s%s", err->prefix, message, extra);
    longjmp(err->jump, 1);
}

static void cic_jpeg_error_exit(j_common_ptr cinfo) { cic_jpeg_fail(cinfo, ""); }

/* Warnings (level < 0) are counted and otherwise ignored, except a premature
 * end of data, which libjpeg would silently pad with grey: that is an error. */
static void cic_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level < 0) {
        cinfo->err->num_warnings++;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            cic_jpeg_fail(cinfo, " (the file is truncated)");
        }
    }
    /* Trace messages (level >= 0) are dropped. */
}

static void cic_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void cic_jpeg_install_errors(cic_jpeg_error *err, char *error, size_t error_size,
                                    const char *prefix) {
    jpeg_std_error(&err->base);
    err->base.error_exit = cic_jpeg_error_exit;
    err->base.emit_message = cic_jpeg_emit_message;
    err->base.output_message = cic_jpeg_output_message;
    err->error = error;
    err->error_size = error_size;
    err->prefix = prefix;
}

/* ---- decoding ------------------------------------------------------------ */

/* Pillow's CMYK -> RGB: channel = (255 - K) - round(C * (255 - K) / 255). */
static unsigned char cic_cmyk_channel(unsigned c, unsigned k) {
    unsigned nk = 255 - k;
    unsigned t = c * nk + 128;
    unsigned scaled = ((t >> 8) + t) >> 8; /* rounded c * nk / 255 */
    return (unsigned char)(nk - scaled);
}

typedef struct cic_decode_state {
    struct jpeg_decompress_struct cinfo;
    cic_jpeg_error err;
    unsigned char *pixels; /* output, RGB */
    unsigned char *row;    /* scratch row for CMYK */
} cic_decode_state;

int cic_jpeg_decode(const unsigned char *data, size_t size, long max_pixels, cic_image *out,
                    char *error, size_t error_size) {
    out->pixels = NULL;
    out->width = 0;
    out->height = 0;
    if (data == NULL || size == 0) {
        cic_set_error(error, error_size, "JPEG data is empty");
        return 0;
    }

    cic_decode_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        cic_set_error(error, error_size, "out of memory starting the JPEG decoder");
        return 0;
    }
    cic_jpeg_install_errors(&s->err, error, error_size, "JPEG data could not be decoded");
    s->cinfo.err = &s->err.base;

    if (setjmp(s->err.jump)) {
        /* Arrived here from cic_jpeg_fail(): the message is already set. */
        jpeg_destroy_decompress(&s->cinfo);
        free(s->pixels);
        free(s->row);
        free(s);
        return 0;
    }

    jpeg_create_decompress(&s->cinfo);
    jpeg_mem_src(&s->cinfo, data, (unsigned long)size);
    jpeg_read_header(&s->cinfo, TRUE);

    int cmyk = 0;
    switch (s->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        s->cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        s->cinfo.out_color_space = JCS_CMYK; /* libjpeg converts YCCK -> CMYK */
        cmyk = 1;
        break;
    default:
        cic_set_error(error, error_size,
                      "JPEG uses an unsupported colour space (libjpeg code %d, %d components); "
                      "convert it to RGB or grayscale first",
                      (int)s->cinfo.jpeg_color_space, s->cinfo.num_components);
        jpeg_destroy_decompress(&s->cinfo);
        free(s);
        return 0;
    }

    if (!cic_check_dimensions("JPEG", (long)s->cinfo.image_width, (long)s->cinfo.image_height, max_pixels,
                              error, error_size)) {
        jpeg_destroy_decompress(&s->cinfo);
        free(s);
        return 0;
    }

    jpeg_start_decompress(&s->cinfo);
    const size_t width = s->cinfo.output_width;
    const size_t height = s->cinfo.output_height;
    const int components = s->cinfo.output_components;
    if (components != (cmyk ? 4 : 3)) {
        cic_set_error(error, error_size, "JPEG decoder produced %d components, expected %d",
                      components, cmyk ? 4 : 3);
        jpeg_destroy_decompress(&s->cinfo);
        free(s);
        return 0;
    }

    s->pixels = malloc(width * height * 3);
    if (cmyk) s->row = malloc(width * 4);
    if (s->pixels == NULL || (cmyk && s->row == NULL)) {
        cic_set_error(error, error_size, "out of memory decoding a %zux%zu JPEG", width, height);
        jpeg_destroy_decompress(&s->cinfo);
        free(s->pixels);
        free(s->row);
        free(s);
        return 0;
    }

    /* Photoshop writes CMYK JPEGs inverted and marks them with an Adobe segment. */
    const int inverted = s->cinfo.saw_Adobe_marker;
    while (s->cinfo.output_scanline < height) {
        const size_t y = s->cinfo.output_scanline;
        unsigned char *dest = s->pixels + y * width * 3;
        JSAMPROW rows[1] = {cmyk ? s->row : dest};
        if (jpeg_read_scanlines(&s->cinfo, rows, 1) != 1) {
            cic_set_error(error, error_size, "JPEG data ended early at row %zu of %zu", y, height);
            jpeg_destroy_decompress(&s->cinfo);
            free(s->pixels);
            free(s->row);
            free(s);
            return 0;
        }
        if (cmyk) {
            for (size_t x = 0; x < width; x++) {
                const unsigned char *p = s->row + x * 4;
                unsigned c = p[0], m = p[1], yy = p[2], k = p[3];
                if (inverted) {
                    c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k;
                }
                dest[x * 3 + 0] = cic_cmyk_channel(c, k);
                dest[x * 3 + 1] = cic_cmyk_channel(m, k);
                dest[x * 3 + 2] = cic_cmyk_channel(yy, k);
            }
        }
    }
    jpeg_finish_decompress(&s->cinfo);
    jpeg_destroy_decompress(&s->cinfo);

    out->pixels = s->pixels;
    out->width = (int)width;
    out->height = (int)height;
    free(s->row);
    free(s);
    return 1;
}

/* ---- encoding ------------------------------------------------------------ */

/* A growable memory destination we own, so the error path can always free it
 * (jpeg_mem_dest's internal reallocations make that unreliable). */
typedef struct cic_memory_dest {
    struct jpeg_destination_mgr base; /* must be first */
    unsigned char *buffer;
    size_t capacity;
} cic_memory_dest;

static void cic_dest_init(j_compress_ptr cinfo) {
    cic_memory_dest *dest = (cic_memory_dest *)cinfo->dest;
    dest->base.next_output_byte = dest->buffer;
    dest->base.free_in_buffer = dest->capacity;
}

static boolean cic_dest_empty(j_compress_ptr cinfo) {
    /* Called when the whole buffer is full: double it. */
    cic_memory_dest *dest = (cic_memory_dest *)cinfo->dest;
    size_t new_capacity = dest->capacity * 2;
    unsigned char *grown = realloc(dest->buffer, new_capacity);
    if (grown == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 10);
    dest->buffer = grown;
    dest->base.next_output_byte = grown + dest->capacity;
    dest->base.free_in_buffer = new_capacity - dest->capacity;
    dest->capacity = new_capacity;
    return TRUE;
}

static void cic_dest_term(j_compress_ptr cinfo) { (void)cinfo; }

typedef struct cic_encode_state {
    struct jpeg_compress_struct cinfo;
    cic_jpeg_error err;
    cic_memory_dest dest;
} cic_encode_state;

int cic_jpeg_encode(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **out, size_t *out_size,
                    char *error, size_t error_size) {
    *out = NULL;
    *out_size = 0;
    if (rgb == NULL || width <= 0 || height <= 0) {
        cic_set_error(error, error_size, "cannot encode a %dx%d image as JPEG", width, height);
        return 0;
    }
    if (width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) {
        cic_set_error(error, error_size,
                      "cannot encode a %dx%d image as JPEG: the format allows at most %ld pixels a side",
                      width, height, (long)JPEG_MAX_DIMENSION);
        return 0;
    }
    if (quality < 1 || quality > 100) {
        cic_set_error(error, error_size, "JPEG quality must be between 1 and 100, got %d", quality);
        return 0;
    }

    cic_encode_state *s = calloc(1, sizeof *s);
    if (s == NULL) {
        cic_set_error(error, error_size, "out of memory starting the JPEG encoder");
        return 0;
    }
    s->dest.capacity = 65536;
    s->dest.buffer = malloc(s->dest.capacity);
    if (s->dest.buffer == NULL) {
        cic_set_error(error, error_size, "out of memory starting the JPEG encoder");
        free(s);
        return 0;
    }
    cic_jpeg_install_errors(&s->err, error, error_size, "JPEG encoding failed");
    s->cinfo.err = &s->err.base;

    if (setjmp(s->err.jump)) {
        jpeg_destroy_compress(&s->cinfo);
        free(s->dest.buffer);
        free(s);
        return 0;
    }

    jpeg_create_compress(&s->cinfo);
    s->dest.base.init_destination = cic_dest_init;
    s->dest.base.empty_output_buffer = cic_dest_empty;
    s->dest.base.term_destination = cic_dest_term;
    s->cinfo.dest = &s->dest.base;

    s->cinfo.image_width = (JDIMENSION)width;
    s->cinfo.image_height = (JDIMENSION)height;
    s->cinfo.input_components = 3;
    s->cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&s->cinfo);
    jpeg_set_quality(&s->cinfo, quality, TRUE);
    jpeg_start_compress(&s->cinfo, TRUE);
    const size_t stride = (size_t)width * 3;
    while (s->cinfo.next_scanline < s->cinfo.image_height) {
        /* libjpeg's API is not const-correct; it only reads the rows. */
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)s->cinfo.next_scanline * stride);
        jpeg_write_scanlines(&s->cinfo, &row, 1);
    }
    jpeg_finish_compress(&s->cinfo);

    *out = s->dest.buffer;
    *out_size = s->dest.capacity - s->dest.base.free_in_buffer;
    jpeg_destroy_compress(&s->cinfo);
    free(s);
    return 1;
}
