/* AMF0: a bounded decoder into a flat node array, and a small encoder. */
#ifndef PRISM_AMF0_H
#define PRISM_AMF0_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The decoder never allocates: it fills a caller-provided array of nodes in
 * pre-order. A container (object, ECMA array, strict array) is followed by
 * its children; `end` is the index just past its subtree, so siblings are
 * found by jumping. Strings point into the input buffer, which must outlive
 * the document. Depth and node count are bounded; input beyond either bound,
 * an unknown marker, or a truncated value is an error.
 */

typedef enum {
    AMF0_NUMBER = 0x00,
    AMF0_BOOLEAN = 0x01,
    AMF0_STRING = 0x02,
    AMF0_OBJECT = 0x03,
    AMF0_NULL = 0x05,
    AMF0_UNDEFINED = 0x06,
    AMF0_ECMA_ARRAY = 0x08,
    AMF0_STRICT_ARRAY = 0x0a,
    AMF0_DATE = 0x0b,
    AMF0_LONG_STRING = 0x0c,
} amf0_type_t;

typedef struct {
    amf0_type_t type;
    uint16_t depth;  /* 0 for top-level values */
    uint16_t keylen; /* property name length (inside objects) */
    const char *key; /* property name, not NUL-terminated, or NULL */
    const char *str; /* string value, not NUL-terminated */
    uint32_t len;    /* string length, or number of children */
    uint32_t end;    /* index past this node's subtree */
    double num;      /* number, date, or boolean (0/1) */
} amf0_node_t;

typedef struct {
    amf0_node_t *nodes; /* caller's array */
    uint32_t cap;       /* its size */
    uint32_t count;     /* nodes filled */
    uint32_t ntop;      /* top-level values */
    uint32_t max_depth; /* nesting bound; 0 means AMF0_DEFAULT_MAX_DEPTH */
} amf0_doc_t;

#define AMF0_DEFAULT_MAX_DEPTH 8

/* Error codes (negative). */
#define AMF0_ETRUNC  (-1001) /* value runs past the end of the input */
#define AMF0_EMARKER (-1002) /* unknown or unsupported type marker */
#define AMF0_EDEPTH  (-1003) /* nesting deeper than max_depth */
#define AMF0_ENODES  (-1004) /* more values than the node array holds */

/*
 * Decodes every top-level value in buf[0..len) into doc (doc->nodes and
 * doc->cap set by the caller). Returns 0 or one of the AMF0_E* codes; on
 * error doc holds what was decoded before it.
 */
int amf0_decode(amf0_doc_t *doc, const uint8_t *buf, size_t len);

/* Index of the i-th top-level value, or -1. */
int amf0_top(const amf0_doc_t *doc, uint32_t i);

/* Index of property `name` among the direct children of node `obj`, or -1. */
int amf0_get(const amf0_doc_t *doc, int obj, const char *name);

/*
 * Copies a string node (or a number, formatted) into out[outlen], NUL
 * terminated and truncated to fit. Returns 0, or -1 if idx is not a string
 * or number.
 */
int amf0_copy_str(const amf0_doc_t *doc, int idx, char *out, size_t outlen);

/* Number value of node idx (numbers and booleans), or `def`. */
double amf0_num(const amf0_doc_t *doc, int idx, double def);

/* True when node idx is a string equal to s. */
bool amf0_str_eq(const amf0_doc_t *doc, int idx, const char *s);

/* Encoder: appends to a fixed buffer; an overflow sets err and stops. */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err; /* -ENOSPC after an overflow */
} amf0_writer_t;

void amf0_w_init(amf0_writer_t *w, uint8_t *buf, size_t cap);
void amf0_w_number(amf0_writer_t *w, double v);
void amf0_w_bool(amf0_writer_t *w, bool v);
void amf0_w_string(amf0_writer_t *w, const char *s);
void amf0_w_null(amf0_writer_t *w);
void amf0_w_object_start(amf0_writer_t *w);
/* Writes a property name; the value follows with another amf0_w_ call. */
void amf0_w_key(amf0_writer_t *w, const char *k);
void amf0_w_object_end(amf0_writer_t *w);

#endif
