/* Decoding LUT-compressed int8 constants (lut.h; the layout is tc_lut_params' in
 * textclf_kernels.h). Within one value table the indices are turned into values in whole groups
 * where the bit width allows (1, 2 and 4 bits: a byte; 3 and 6 bits: three bytes), else through
 * a bit accumulator; either way only bytes holding bits of the requested elements are read. */
#include "lut.h"

#include "dot_product.h"

/* The index of `width` bits starting at bit `bit` of the stream. An index of at most 7 bits lies
 * in at most two bytes; the second is read only when the index reaches into it. */
static uint32_t index_at(const uint8_t *indices, uint32_t bit, int32_t width)
{
    const uint32_t skip = bit & 7u; /* bits of the first byte before the index, from the top */
    const uint8_t *byte = indices + (bit >> 3);
    uint32_t window = (uint32_t)byte[0] << 8;
    if (skip + (uint32_t)width > 8u) window |= byte[1];
    return (window >> (16u - skip - (uint32_t)width)) & ((1u << width) - 1u);
}

/* Whole groups of indices from a byte boundary on (`src` is the group's first byte): a byte holds
 * 8, 4 or 2 indices of 1, 2 or 4 bits, three bytes hold 8 or 4 of 3 or 6 bits. Constant shifts,
 * so an index costs a shift, a mask, a table load and a store. Returns how many elements it wrote:
 * whole groups only, at most count. */
static int32_t decode_groups(const uint8_t *src, int32_t width, const int8_t *table, int32_t count,
                             int8_t *out)
{
    int32_t k = 0;
    uint32_t w;
    switch (width) {
    case 1:
        for (; k + 8 <= count; k += 8) {
            w = *src++;
            out[k] = table[w >> 7];
            out[k + 1] = table[(w >> 6) & 1u];
            out[k + 2] = table[(w >> 5) & 1u];
            out[k + 3] = table[(w >> 4) & 1u];
            out[k + 4] = table[(w >> 3) & 1u];
            out[k + 5] = table[(w >> 2) & 1u];
            out[k + 6] = table[(w >> 1) & 1u];
            out[k + 7] = table[w & 1u];
        }
        break;
    case 2:
        for (; k + 4 <= count; k += 4) {
            w = *src++;
            out[k] = table[w >> 6];
            out[k + 1] = table[(w >> 4) & 3u];
            out[k + 2] = table[(w >> 2) & 3u];
            out[k + 3] = table[w & 3u];
        }
        break;
    case 4:
        for (; k + 2 <= count; k += 2) {
            w = *src++;
            out[k] = table[w >> 4];
            out[k + 1] = table[w & 15u];
        }
        break;
    case 3:
        for (; k + 8 <= count; k += 8, src += 3) {
            w = ((uint32_t)src[0] << 16) | ((uint32_t)src[1] << 8) | src[2];
            out[k] = table[w >> 21];
            out[k + 1] = table[(w >> 18) & 7u];
            out[k + 2] = table[(w >> 15) & 7u];
            out[k + 3] = table[(w >> 12) & 7u];
            out[k + 4] = table[(w >> 9) & 7u];
            out[k + 5] = table[(w >> 6) & 7u];
            out[k + 6] = table[(w >> 3) & 7u];
            out[k + 7] = table[w & 7u];
        }
        break;
    case 6:
        for (; k + 4 <= count; k += 4, src += 3) {
            w = ((uint32_t)src[0] << 16) | ((uint32_t)src[1] << 8) | src[2];
            out[k] = table[w >> 18];
            out[k + 1] = table[(w >> 12) & 63u];
            out[k + 2] = table[(w >> 6) & 63u];
            out[k + 3] = table[w & 63u];
        }
        break;
    default:
        break;
    }
    return k;
}

/* table[index] element by element through a bit accumulator, starting at bit `bit`. After each
 * element the table moves on by `step` entries, wrapping from `end` back to `tables` (tables along
 * the last axis); step 0 keeps one table. A byte is read only when the next index needs it. */
static void decode_stream(const uint8_t *indices, int32_t width, uint32_t bit, const int8_t *table,
                          int32_t step, const int8_t *tables, const int8_t *end, int32_t count,
                          int8_t *out)
{
    const uint32_t mask = (1u << width) - 1u;
    const uint8_t *next = indices + (bit >> 3);
    uint32_t bits; /* the unread bits are the low `available` ones */
    int32_t available;
    int32_t k;
    if (count <= 0) return;
    bits = *next++;
    available = 8 - (int32_t)(bit & 7u);
    for (k = 0; k < count; ++k) {
        if (available < width) {
            bits = (bits << 8) | *next++;
            available += 8;
        }
        available -= width;
        out[k] = table[(bits >> available) & mask];
        table += step;
        if (table == end) table = tables;
    }
}

/* `count` elements from bit `bit` on that all read `table`. */
static void decode_run(const uint8_t *indices, int32_t width, uint32_t bit, const int8_t *table,
                       int32_t count, int8_t *out)
{
    int32_t k = 0;
    if (width == 5 || width == 7) {
        decode_stream(indices, width, bit, table, 0, table, NULL, count, out);
        return;
    }
    /* Index by index to a byte boundary, whole groups, then the few left. */
    for (; k < count && (bit & 7u) != 0u; ++k, bit += (uint32_t)width) {
        out[k] = table[index_at(indices, bit, width)];
    }
    if (k < count) {
        const int32_t done = decode_groups(indices + (bit >> 3), width, table, count - k, out + k);
        k += done;
        bit += (uint32_t)done * (uint32_t)width;
    }
    for (; k < count; ++k, bit += (uint32_t)width) {
        out[k] = table[index_at(indices, bit, width)];
    }
}

void tc_lut_decode(const tc_lut_params *lut, int32_t first, int32_t count, int8_t *out)
{
    const int32_t width = lut->bit_width;
    if (lut->channels > 1 && lut->channel_run == 1) {
        /* Tables along the last axis: consecutive elements read consecutive tables. */
        const int8_t *end = lut->values + (size_t)lut->channels * (size_t)lut->table_stride;
        const int8_t *table =
            lut->values + (size_t)(first % lut->channels) * (size_t)lut->table_stride;
        decode_stream(lut->indices, width, (uint32_t)first * (uint32_t)width, table,
                      lut->table_stride, lut->values, end, count, out);
        return;
    }
    /* One table, or tables along axis 0: runs of channel_run elements share a table. */
    while (count > 0) {
        const int32_t channel = (first / lut->channel_run) % lut->channels;
        const int32_t left = lut->channel_run - first % lut->channel_run;
        const int32_t run = left < count ? left : count;
        decode_run(lut->indices, width, (uint32_t)first * (uint32_t)width,
                   lut->values + (size_t)channel * (size_t)lut->table_stride, run, out);
        first += run;
        out += run;
        count -= run;
    }
}

int32_t tc_lut_dot(const int8_t *x, int32_t x_offset, const tc_lut_params *lut, int32_t first,
                   int32_t length)
{
    int8_t chunk[TC_LUT_CHUNK];
    int32_t acc = 0;
    int32_t done = 0;
    while (done < length) {
        const int32_t n = length - done < TC_LUT_CHUNK ? length - done : TC_LUT_CHUNK;
        tc_lut_decode(lut, first + done, n, chunk);
        acc += tc_dot_product_s8(x + done, x_offset, chunk, 0, n);
        done += n;
    }
    return acc;
}
