/* UTF-8 decoding with Python's replacement rule, and lookups in the generated Unicode tables. */
#include "internal.h"

#define HANGUL_FIRST 0xAC00u
#define HANGUL_COUNT 11172u
#define HANGUL_T_COUNT 28u
#define HANGUL_VT_COUNT (21u * HANGUL_T_COUNT)

uint32_t tc_utf8_decode(const uint8_t *text, size_t length, size_t *position)
{
    size_t at = *position;
    uint8_t lead = text[at++];
    uint32_t code_point;
    size_t continuation;
    /* Allowed range of the next byte: the second byte of E0, ED, F0 and F4 sequences is narrower,
     * which excludes overlong forms, surrogates and code points past U+10FFFF (Unicode table 3-7). */
    uint8_t low = 0x80, high = 0xBF;

    if (lead < 0x80) {
        *position = at;
        return lead;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        continuation = 1;
        code_point = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        continuation = 2;
        code_point = lead & 0x0Fu;
        if (lead == 0xE0)
            low = 0xA0;
        else if (lead == 0xED)
            high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        continuation = 3;
        code_point = lead & 0x07u;
        if (lead == 0xF0)
            low = 0x90;
        else if (lead == 0xF4)
            high = 0x8F;
    } else {
        *position = at;
        return TC_REPLACEMENT_CHARACTER;
    }
    for (; continuation > 0; --continuation) {
        if (at == length || text[at] < low || text[at] > high) {
            /* The bytes so far are a maximal subpart: one replacement; text[at] is read afresh. */
            *position = at;
            return TC_REPLACEMENT_CHARACTER;
        }
        code_point = code_point << 6 | (text[at++] & 0x3Fu);
        low = 0x80;
        high = 0xBF;
    }
    *position = at;
    return code_point;
}

unsigned tc_unicode_class(const tc_unicode_tables *unicode, uint32_t code_point)
{
    uint32_t block = code_point >> TC_CLASS_BLOCK_BITS;
    uint32_t low = unicode->class_block_starts[block];
    uint32_t high = unicode->class_block_starts[block + 1];
    uint32_t key = (code_point & ((1u << TC_CLASS_BLOCK_BITS) - 1u)) << 3 | 7u;

    /* The last run start <= key; the block's first entry is at offset 0, so one always exists. */
    while (high - low > 1) {
        uint32_t middle = low + (high - low) / 2;
        if (unicode->classes[middle] <= key)
            low = middle;
        else
            high = middle;
    }
    return unicode->classes[low] & 7u;
}

static size_t hangul_jamo(uint32_t code_point, uint32_t mapped[TC_MAX_MAPPED])
{
    uint32_t index = code_point - HANGUL_FIRST;
    mapped[0] = 0x1100u + index / HANGUL_VT_COUNT;
    mapped[1] = 0x1161u + index % HANGUL_VT_COUNT / HANGUL_T_COUNT;
    if (index % HANGUL_T_COUNT == 0) return 2;
    mapped[2] = 0x11A7u + index % HANGUL_T_COUNT;
    return 3;
}

size_t tc_unicode_map(const tc_unicode_tables *unicode, uint32_t code_point,
                      uint32_t mapped[TC_MAX_MAPPED])
{
    uint32_t low = 0, high = unicode->map_count;
    uint32_t head, offset, index;
    int32_t param;
    size_t count;

    if (code_point - HANGUL_FIRST < HANGUL_COUNT) return hangul_jamo(code_point, mapped);
    mapped[0] = code_point;
    /* The first group starting after the code point; the one before it may contain it. */
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (unicode->map_heads[middle] >> 11 <= code_point)
            low = middle + 1;
        else
            high = middle;
    }
    if (low == 0) return 1;
    head = unicode->map_heads[low - 1];
    offset = code_point - (head >> 11);
    if (offset > (head & 0xFFu)) return 1;
    param = unicode->map_params[low - 1];
    switch ((head >> 8) & 7u) {
    case TC_MAP_DELTA:
        mapped[0] = (uint32_t)((int32_t)code_point + param);
        return 1;
    case TC_MAP_ALTERNATE:
        if ((offset & 1u) == 0) mapped[0] = (uint32_t)((int32_t)code_point + param);
        return 1;
    case TC_MAP_CONSTANT:
        mapped[0] = (uint32_t)((int32_t)(head >> 11) + param);
        return 1;
    case TC_MAP_DENSE:
        index = (uint32_t)param + offset;
        mapped[0] = unicode->dense_low[index];
        if ((unicode->dense_plane2[index >> 3] >> (index & 7u)) & 1u) mapped[0] += 0x20000u;
        return 1;
    case TC_MAP_MULTI:
        index = ((uint32_t)param + offset) * TC_MAX_MAPPED;
        for (count = 0; count < TC_MAX_MAPPED && unicode->multi[index + count] != 0; ++count)
            mapped[count] = unicode->multi[index + count];
        return count;
    default:
        return 1;
    }
}

unsigned tc_unicode_combining_class(const tc_unicode_tables *unicode, uint32_t code_point)
{
    uint32_t low = 0, high = unicode->non_starter_count;

    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        uint32_t entry = unicode->non_starters[middle];
        if (entry >> 8 == code_point) return entry & 0xFFu;
        if (entry >> 8 < code_point)
            low = middle + 1;
        else
            high = middle;
    }
    return 0;
}
