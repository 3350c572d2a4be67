/* Shared helpers: error formatting, dimension checks and cic_free. */
#include "common.h"
#include "CImageCodecs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cic_set_error(char *error, size_t error_size, const char *format, ...) {
    if (error == NULL || error_size == 0) return;
    va_list args;
    va_start(args, format);
    vsnprintf(error, error_size, format, args);
    va_end(args);
}

int cic_check_dimensions(const char *format_name, long width, long height, long max_pixels,
                         char *error, size_t error_size) {
    long limit = max_pixels < CIC_MAX_PIXELS ? max_pixels : CIC_MAX_PIXELS;
    if (limit < 1) limit = 1;
    if (width <= 0 || height <= 0) {
        cic_set_error(error, error_size, "%s image has invalid size %ldx%ld",
                      format_name, width, height);
        return 0;
    }
    /* Compare by division so the product cannot overflow. */
    if (width > limit / height) {
        cic_set_error(error, error_size,
                      "%s image is too large (%ldx%ld pixels; the limit is %ld pixels%s)",
                      format_name, width, height, limit,
                      limit < CIC_MAX_PIXELS ? ", from the memory budget" : "");
        return 0;
    }
    return 1;
}

void cic_free(void *pointer) { free(pointer); }
