/* Fuzz target: FLV files and tag bodies (legacy and Enhanced RTMP). */
#include <stddef.h>
#include <stdint.h>

#include "flv_tag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flv_pkt_t p;
    uint32_t sr, ch;
    /* The input as one body of each kind. */
    if (flv_parse_video(data, (uint32_t)size, &p) == 0 &&
        (uint64_t)p.offset + p.size > size)
        __builtin_trap();
    if (flv_parse_audio(data, (uint32_t)size, &p) == 0) {
        if ((uint64_t)p.offset + p.size > size)
            __builtin_trap();
        if (p.config)
            flv_aac_asc_info(data + p.offset, p.size, &sr, &ch);
    }
    /* The input as an FLV file. */
    long off = flv_file_header(data, size);
    if (off < 0)
        off = 0;
    while ((size_t)off < size) {
        flv_file_tag_t t;
        long n = flv_file_tag(data + off, size - (size_t)off, &t);
        if (n <= 0)
            break;
        if (t.body + t.size > data + size)
            __builtin_trap();
        if (t.type == 9)
            flv_parse_video(t.body, t.size, &p);
        else if (t.type == 8)
            flv_parse_audio(t.body, t.size, &p);
        off += n;
    }
    return 0;
}
