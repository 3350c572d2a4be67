/*
 * PNG decoding and encoding with libpng's simplified API (png_image), which
 * handles every colour type / bit depth and reports errors through
 * image.message instead of longjmp-ing into our code.
 */
#include "CImageCodecs.h"
#include "common.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

int cic_png_decode(const unsigned char *data, size_t size, long max_pixels, cic_image *out,
                   char *error, size_t error_size) {
    out->pixels = NULL;
    out->width = 0;
    out->height = 0;
    if (data == NULL || size == 0) {
        cic_set_error(error, error_size, "PNG data is empty");
        return 0;
    }

    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        cic_set_error(error, error_size, "PNG header could not be read: %s", image.message);
        png_image_free(&image);
        return 0;
    }
    if (!cic_check_dimensions("PNG", (long)image.width, (long)image.height, max_pixels, error, error_size)) {
        png_image_free(&image);
        return 0;
    }

    /* 16-bit files without colour-space chunks: treat samples as sRGB, not linear. */
    image.flags |= PNG_IMAGE_FLAG_16BIT_sRGB;

    /* Read alpha images as RGBA and drop alpha ourselves: asking libpng for RGB
     * would composite onto a background instead of keeping the stored colours. */
    const int has_alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    image.format = has_alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;

    const size_t channels = has_alpha ? 4 : 3;
    const size_t pixel_count = (size_t)image.width * (size_t)image.height;
    unsigned char *buffer = malloc(pixel_count * channels);
    if (buffer == NULL) {
        cic_set_error(error, error_size, "out of memory decoding a %ux%u PNG",
                      image.width, image.height);
        png_image_free(&image);
        return 0;
    }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        cic_set_error(error, error_size, "PNG data could not be decoded: %s", image.message);
        png_image_free(&image);
        free(buffer);
        return 0;
    }

    if (has_alpha) {
        /* Compact RGBA -> RGB in place; the destination never overtakes the source. */
        for (size_t i = 0; i < pixel_count; i++) {
            buffer[i * 3 + 0] = buffer[i * 4 + 0];
            buffer[i * 3 + 1] = buffer[i * 4 + 1];
            buffer[i * 3 + 2] = buffer[i * 4 + 2];
        }
        unsigned char *shrunk = realloc(buffer, pixel_count * 3);
        if (shrunk != NULL) buffer = shrunk;
    }

    out->pixels = buffer;
    out->width = (int)image.width;
    out->height = (int)image.height;
    return 1;
}

int cic_png_encode(const unsigned char *rgb, int width, int height,
                   unsigned char **out, size_t *out_size,
                   char *error, size_t error_size) {
    *out = NULL;
    *out_size = 0;
    if (rgb == NULL || width <= 0 || height <= 0) {
        cic_set_error(error, error_size, "cannot encode a %dx%d image as PNG", width, height);
        return 0;
    }

    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = PNG_FORMAT_RGB;

    png_alloc_size_t needed = 0;
    if (!png_image_write_get_memory_size(image, needed, 0, rgb, 0, NULL)) {
        cic_set_error(error, error_size, "PNG encoding failed: %s", image.message);
        png_image_free(&image);
        return 0;
    }
    unsigned char *buffer = malloc(needed);
    if (buffer == NULL) {
        cic_set_error(error, error_size, "out of memory encoding a %dx%d PNG", width, height);
        return 0;
    }
    png_alloc_size_t written = needed;
    if (!png_image_write_to_memory(&image, buffer, &written, 0, rgb, 0, NULL)) {
        cic_set_error(error, error_size, "PNG encoding failed: %s", image.message);
        png_image_free(&image);
        free(buffer);
        return 0;
    }
    *out = buffer;
    *out_size = (size_t)written;
    return 1;
}
