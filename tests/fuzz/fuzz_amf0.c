/* Fuzz target: the AMF0 decoder and its lookups. */
#include <stddef.h>
#include <stdint.h>

#include "amf0.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    amf0_node_t nodes[128];
    amf0_doc_t d = {nodes, 128, 0, 0, 8};
    amf0_decode(&d, data, size);
    if (d.count > d.cap)
        __builtin_trap();
    char buf[64];
    for (uint32_t i = 0; i < d.ntop && i < 8; i++) {
        int idx = amf0_top(&d, i);
        amf0_copy_str(&d, idx, buf, sizeof(buf));
        amf0_num(&d, amf0_get(&d, idx, "width"), 0);
        amf0_copy_str(&d, amf0_get(&d, idx, "encoder"), buf, sizeof(buf));
    }
    return 0;
}
