/*
 * CImageCodecs — a small C layer over libpng and libjpeg-turbo.
 *
 * Every function works on memory buffers only (no file I/O happens here) and
 * never exits, aborts or prints: on failure it returns 0 and writes a short,
 * NUL-terminated English message into the caller's `error` buffer (at most
 * `error_size` bytes, CIC_ERROR_SIZE is plenty).  On success it returns 1.
 *
 * Pixel format everywhere: 8-bit interleaved RGB, rows top to bottom, no row
 * padding, so an image of width w and height h occupies w * h * 3 bytes.
 *
 * Buffers handed back to the caller (`out->pixels`, `*out`) are allocated with
 * malloc and must be released with cic_free().
 */
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A comfortable size for the `error` buffers passed to the functions below. */
#define CIC_ERROR_SIZE 512

/**
 * Largest number of pixels (width * height) a decoder accepts; bigger images
 * are rejected with an error rather than attempting a multi-gigabyte
 * allocation.  134,217,728 pixels is e.g. 16384 x 8192.
 */
#define CIC_MAX_PIXELS (1L << 27)

/** A decoded image: `pixels` holds width * height * 3 bytes of RGB. */
typedef struct cic_image {
    unsigned char *pixels;
    int width;
    int height;
} cic_image;

/**
 * Decodes a PNG file held in memory into 8-bit RGB using libpng's simplified
 * (png_image) API.  Every PNG colour type and bit depth is accepted:
 * grayscale is replicated into R, G and B; palette images are expanded; an
 * alpha channel (or tRNS transparency) is dropped without compositing, the
 * same as Pillow's `Image.convert("RGB")`; 16-bit samples are reduced to
 * 8 bits.  16-bit files without gAMA/sRGB information are taken to be
 * sRGB-encoded (not linear), again matching what image viewers and Pillow do.
 *
 * An image of more than `max_pixels` pixels (or CIC_MAX_PIXELS, whichever is
 * smaller) is refused from its header, before any pixel memory is allocated.
 *
 * Returns 1 and fills `out` on success; returns 0, leaves `out->pixels` NULL
 * and writes a message into `error` on failure.
 */
int cic_png_decode(const unsigned char *data, size_t size, long max_pixels, cic_image *out,
                   char *error, size_t error_size);

/**
 * Decodes a JPEG file held in memory into 8-bit RGB with libjpeg-turbo.
 * YCbCr, RGB and grayscale files are converted by libjpeg; CMYK and YCCK files
 * (as written by Photoshop, Adobe-inverted or not) are converted with
 * R = (255 - C) * (255 - K) / 255 etc., the formula Pillow uses.  A truncated
 * file is reported as an error (Pillow does the same unless told otherwise);
 * other recoverable "corrupt data" warnings are ignored like libjpeg does.
 *
 * Returns 1 and fills `out` on success; 0 with a message in `error` otherwise.
 */
int cic_jpeg_decode(const unsigned char *data, size_t size, long max_pixels, cic_image *out,
                    char *error, size_t error_size);

/**
 * Encodes width * height RGB pixels as a PNG (8-bit RGB, default zlib
 * compression) into a malloc'd buffer returned through `out` / `out_size`.
 */
int cic_png_encode(const unsigned char *rgb, int width, int height,
                   unsigned char **out, size_t *out_size,
                   char *error, size_t error_size);

/**
 * Encodes width * height RGB pixels as a baseline JPEG (YCbCr 4:2:0, like
 * Pillow's default) with the given quality (1...100) into a malloc'd buffer
 * returned through `out` / `out_size`.
 */
int cic_jpeg_encode(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **out, size_t *out_size,
                    char *error, size_t error_size);

/** Releases a buffer returned by one of the functions above (NULL is fine). */
void cic_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* CIMAGECODECS_H */
