/* AMF0 decoding into a bounded flat node array, and encoding. */
#include "amf0.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const uint8_t *p, *end;
    amf0_doc_t *doc;
} rd_t;

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static double rddouble(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i];
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

static int value(rd_t *r, uint32_t depth, const char *key, uint16_t keylen);

/* Reads name/value pairs up to the 00 00 09 end marker into node idx. */
static int properties(rd_t *r, uint32_t idx, uint32_t depth)
{
    for (;;) {
        if (r->end - r->p < 2)
            return AMF0_ETRUNC;
        uint16_t klen = rd16(r->p);
        r->p += 2;
        if (klen == 0) {
            if (r->p >= r->end)
                return AMF0_ETRUNC;
            if (*r->p != 0x09)
                return AMF0_EMARKER;
            r->p++;
            break;
        }
        if (r->end - r->p < klen)
            return AMF0_ETRUNC;
        const char *k = (const char *)r->p;
        r->p += klen;
        int rc = value(r, depth + 1, k, klen);
        if (rc < 0)
            return rc;
        r->doc->nodes[idx].len++;
    }
    return 0;
}

static int value(rd_t *r, uint32_t depth, const char *key, uint16_t keylen)
{
    amf0_doc_t *doc = r->doc;
    uint32_t maxd = doc->max_depth ? doc->max_depth : AMF0_DEFAULT_MAX_DEPTH;
    if (depth > maxd)
        return AMF0_EDEPTH;
    if (r->p >= r->end)
        return AMF0_ETRUNC;
    if (doc->count >= doc->cap)
        return AMF0_ENODES;
    uint32_t idx = doc->count++;
    amf0_node_t *n = &doc->nodes[idx];
    memset(n, 0, sizeof(*n));
    n->depth = (uint16_t)depth;
    n->key = key;
    n->keylen = keylen;
    uint8_t marker = *r->p++;
    int rc = 0;
    switch (marker) {
    case AMF0_NUMBER:
        if (r->end - r->p < 8)
            return AMF0_ETRUNC;
        n->num = rddouble(r->p);
        r->p += 8;
        break;
    case AMF0_BOOLEAN:
        if (r->end - r->p < 1)
            return AMF0_ETRUNC;
        n->num = *r->p++ ? 1 : 0;
        break;
    case AMF0_STRING:
        if (r->end - r->p < 2)
            return AMF0_ETRUNC;
        n->len = rd16(r->p);
        r->p += 2;
        if ((size_t)(r->end - r->p) < n->len)
            return AMF0_ETRUNC;
        n->str = (const char *)r->p;
        r->p += n->len;
        break;
    case AMF0_LONG_STRING:
        if (r->end - r->p < 4)
            return AMF0_ETRUNC;
        n->len = rd32(r->p);
        r->p += 4;
        if ((size_t)(r->end - r->p) < n->len)
            return AMF0_ETRUNC;
        n->str = (const char *)r->p;
        r->p += n->len;
        break;
    case AMF0_NULL:
    case AMF0_UNDEFINED:
        break;
    case AMF0_DATE:
        if (r->end - r->p < 10)
            return AMF0_ETRUNC;
        n->num = rddouble(r->p);
        r->p += 10;
        break;
    case AMF0_ECMA_ARRAY:
        if (r->end - r->p < 4)
            return AMF0_ETRUNC;
        r->p += 4; /* the count is a hint only; the end marker ends it */
        /* fall through */
    case AMF0_OBJECT:
        rc = properties(r, idx, depth);
        break;
    case AMF0_STRICT_ARRAY: {
        if (r->end - r->p < 4)
            return AMF0_ETRUNC;
        uint32_t cnt = rd32(r->p);
        r->p += 4;
        for (uint32_t i = 0; i < cnt && rc == 0; i++) {
            rc = value(r, depth + 1, NULL, 0);
            if (rc == 0)
                doc->nodes[idx].len++;
        }
        break;
    }
    default:
        return AMF0_EMARKER;
    }
    n = &doc->nodes[idx];
    n->type = (amf0_type_t)marker;
    n->end = doc->count;
    return rc;
}

int amf0_decode(amf0_doc_t *doc, const uint8_t *buf, size_t len)
{
    rd_t r = {buf, buf + len, doc};
    doc->count = 0;
    doc->ntop = 0;
    while (r.p < r.end) {
        int rc = value(&r, 0, NULL, 0);
        if (rc < 0)
            return rc;
        doc->ntop++;
    }
    return 0;
}

int amf0_top(const amf0_doc_t *doc, uint32_t i)
{
    uint32_t idx = 0;
    for (uint32_t k = 0; k < doc->ntop && idx < doc->count; k++) {
        if (k == i)
            return (int)idx;
        idx = doc->nodes[idx].end;
    }
    return -1;
}

int amf0_get(const amf0_doc_t *doc, int obj, const char *name)
{
    if (obj < 0 || (uint32_t)obj >= doc->count)
        return -1;
    const amf0_node_t *o = &doc->nodes[obj];
    if (o->type != AMF0_OBJECT && o->type != AMF0_ECMA_ARRAY)
        return -1;
    size_t nlen = strlen(name);
    uint32_t i = (uint32_t)obj + 1;
    while (i < o->end) {
        const amf0_node_t *c = &doc->nodes[i];
        if (c->key && c->keylen == nlen && memcmp(c->key, name, nlen) == 0)
            return (int)i;
        i = c->end;
    }
    return -1;
}

int amf0_copy_str(const amf0_doc_t *doc, int idx, char *out, size_t outlen)
{
    if (idx < 0 || (uint32_t)idx >= doc->count || outlen == 0)
        return -1;
    const amf0_node_t *n = &doc->nodes[idx];
    if (n->type == AMF0_NUMBER) {
        snprintf(out, outlen, "%g", n->num);
        return 0;
    }
    if (n->type != AMF0_STRING && n->type != AMF0_LONG_STRING)
        return -1;
    size_t l = n->len < outlen - 1 ? n->len : outlen - 1;
    memcpy(out, n->str, l);
    out[l] = 0;
    return 0;
}

double amf0_num(const amf0_doc_t *doc, int idx, double def)
{
    if (idx < 0 || (uint32_t)idx >= doc->count)
        return def;
    const amf0_node_t *n = &doc->nodes[idx];
    if (n->type == AMF0_NUMBER || n->type == AMF0_BOOLEAN)
        return n->num;
    return def;
}

bool amf0_str_eq(const amf0_doc_t *doc, int idx, const char *s)
{
    if (idx < 0 || (uint32_t)idx >= doc->count)
        return false;
    const amf0_node_t *n = &doc->nodes[idx];
    if (n->type != AMF0_STRING && n->type != AMF0_LONG_STRING)
        return false;
    size_t l = strlen(s);
    return n->len == l && memcmp(n->str, s, l) == 0;
}

void amf0_w_init(amf0_writer_t *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = 0;
}

static void put(amf0_writer_t *w, const void *p, size_t n)
{
    if (w->err || w->cap - w->len < n) {
        w->err = -ENOSPC;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put8(amf0_writer_t *w, uint8_t v)
{
    put(w, &v, 1);
}

static void put16(amf0_writer_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(w, b, 2);
}

void amf0_w_number(amf0_writer_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    uint8_t b[9];
    b[0] = AMF0_NUMBER;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (uint8_t)(u >> (56 - 8 * i));
    put(w, b, 9);
}

void amf0_w_bool(amf0_writer_t *w, bool v)
{
    put8(w, AMF0_BOOLEAN);
    put8(w, v ? 1 : 0);
}

void amf0_w_string(amf0_writer_t *w, const char *s)
{
    size_t l = strlen(s);
    if (l > 0xffff)
        l = 0xffff;
    put8(w, AMF0_STRING);
    put16(w, (uint16_t)l);
    put(w, s, l);
}

void amf0_w_null(amf0_writer_t *w)
{
    put8(w, AMF0_NULL);
}

void amf0_w_object_start(amf0_writer_t *w)
{
    put8(w, AMF0_OBJECT);
}

void amf0_w_key(amf0_writer_t *w, const char *k)
{
    size_t l = strlen(k);
    if (l > 0xffff)
        l = 0xffff;
    put16(w, (uint16_t)l);
    put(w, k, l);
}

void amf0_w_object_end(amf0_writer_t *w)
{
    static const uint8_t end[3] = {0, 0, 9};
    put(w, end, 3);
}
