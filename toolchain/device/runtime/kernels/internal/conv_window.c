#include "conv_window.h"

#include <string.h>

/* Whether `count` bytes all equal `value`, compared a word at a time. */
static int bytes_all_equal(const int8_t *bytes, int32_t count, int8_t value)
{
    const uint32_t pattern = (uint32_t)(uint8_t)value * 0x01010101u;
    int32_t i = 0;
    for (; i + 4 <= count; i += 4) {
        uint32_t word;
        memcpy(&word, bytes + i, sizeof word);
        if (word != pattern) return 0;
    }
    for (; i < count; ++i) {
        if (bytes[i] != value) return 0;
    }
    return 1;
}

int tc_conv_window_is_zero_point(const tc_conv_2d_params *p, const int8_t *image,
                                 int32_t in_y_origin, int32_t in_x_origin)
{
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int32_t filter_y, filter_x;
    for (filter_y = 0; filter_y < p->filter_height; ++filter_y) {
        const int32_t in_y = in_y_origin + p->dilation_height * filter_y;
        if (in_y < 0 || in_y >= p->input_height) continue;
        for (filter_x = 0; filter_x < p->filter_width; ++filter_x) {
            const int32_t in_x = in_x_origin + p->dilation_width * filter_x;
            if (in_x < 0 || in_x >= p->input_width) continue;
            if (!bytes_all_equal(image + ((size_t)in_y * p->input_width + in_x) * p->input_depth,
                                 p->input_depth, zero_point)) {
                return 0;
            }
        }
    }
    return 1;
}
