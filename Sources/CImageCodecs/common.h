/* Internal helpers shared by the PNG and JPEG codecs (not part of the public header). */
#ifndef CIC_COMMON_H
#define CIC_COMMON_H

#include <stddef.h>

/** printf-style formatting into the caller's error buffer; tolerates NULL / size 0. */
void cic_set_error(char *error, size_t error_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Checks width/height for a decoder: both positive and width * height within
 * max_pixels and CIC_MAX_PIXELS.  Returns 1 if acceptable, else 0 with a message in `error`.
 */
int cic_check_dimensions(const char *format_name, long width, long height, long max_pixels,
                         char *error, size_t error_size);

#endif
