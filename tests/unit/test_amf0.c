/* Tests of the AMF0 decoder and encoder: commands, metadata, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "amf0.h"
#include "test_main.h"

static void test_roundtrip_command(void **state)
{
    (void)state;
    uint8_t b[256];
    amf0_writer_t w;
    amf0_w_init(&w, b, sizeof(b));
    amf0_w_string(&w, "connect");
    amf0_w_number(&w, 1);
    amf0_w_object_start(&w);
    amf0_w_key(&w, "app");
    amf0_w_string(&w, "live");
    amf0_w_key(&w, "inner");
    amf0_w_object_start(&w);
    amf0_w_key(&w, "x");
    amf0_w_bool(&w, true);
    amf0_w_object_end(&w);
    amf0_w_key(&w, "flashVer");
    amf0_w_string(&w, "FMLE/3.0");
    amf0_w_object_end(&w);
    amf0_w_null(&w);
    assert_int_equal(w.err, 0);

    amf0_node_t nodes[32];
    amf0_doc_t d = {nodes, 32, 0, 0, 0};
    assert_int_equal(amf0_decode(&d, b, w.len), 0);
    assert_int_equal(d.ntop, 4);
    assert_true(amf0_str_eq(&d, amf0_top(&d, 0), "connect"));
    assert_true(amf0_num(&d, amf0_top(&d, 1), 0) == 1.0);
    int obj = amf0_top(&d, 2);
    char s[32];
    assert_int_equal(
        amf0_copy_str(&d, amf0_get(&d, obj, "flashVer"), s, sizeof(s)), 0);
    assert_string_equal(s, "FMLE/3.0");
    /* The nested object is skipped over when looking for siblings. */
    assert_int_equal(amf0_get(&d, obj, "x"), -1);
    assert_int_equal(d.nodes[amf0_top(&d, 3)].type, AMF0_NULL);
}

static void test_ecma_array_metadata(void **state)
{
    (void)state;
    /* "onMetaData", ECMA array {width: 640, encoder: "obs"} */
    uint8_t b[] = {2,   0,   10,  'o', 'n',  'M',  'e', 't', 'a', 'D', 'a',
                   't', 'a', 8,   0,   0,    0,    2,   0,   5,   'w', 'i',
                   'd', 't', 'h', 0,   0x40, 0x84, 0,   0,   0,   0,   0,
                   0,   0,   7,   'e', 'n',  'c',  'o', 'd', 'e', 'r', 2,
                   0,   3,   'o', 'b', 's',  0,    0,   9};
    amf0_node_t nodes[16];
    amf0_doc_t d = {nodes, 16, 0, 0, 0};
    assert_int_equal(amf0_decode(&d, b, sizeof(b)), 0);
    int arr = amf0_top(&d, 1);
    assert_true(amf0_num(&d, amf0_get(&d, arr, "width"), 0) == 640.0);
    assert_true(amf0_str_eq(&d, amf0_get(&d, arr, "encoder"), "obs"));
}

static void test_bounds(void **state)
{
    (void)state;
    amf0_node_t nodes[8];
    /* Truncated string. */
    uint8_t t[] = {2, 0, 10, 'a', 'b'};
    amf0_doc_t d = {nodes, 8, 0, 0, 0};
    assert_int_equal(amf0_decode(&d, t, sizeof(t)), AMF0_ETRUNC);
    /* Unknown marker (AMF3 switch 0x11 is not supported in AMF0 data). */
    uint8_t u[] = {0x11, 0};
    assert_int_equal(amf0_decode(&d, u, sizeof(u)), AMF0_EMARKER);
    /* Nesting deeper than max_depth. */
    uint8_t deep[64];
    size_t n = 0;
    for (int i = 0; i < 12; i++) {
        deep[n++] = 3;
        deep[n++] = 0, deep[n++] = 1, deep[n++] = 'k';
    }
    deep[n++] = 5;
    amf0_doc_t dd = {nodes, 8, 0, 0, 4};
    assert_int_equal(amf0_decode(&dd, deep, n), AMF0_EDEPTH);
    /* More values than nodes. */
    uint8_t many[20];
    memset(many, 5, sizeof(many));
    amf0_doc_t dm = {nodes, 8, 0, 0, 0};
    assert_int_equal(amf0_decode(&dm, many, sizeof(many)), AMF0_ENODES);
    /* A strict array claiming 2^32-1 elements stops at the node bound. */
    uint8_t sa[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 5, 5, 5};
    amf0_doc_t ds = {nodes, 8, 0, 0, 0};
    assert_true(amf0_decode(&ds, sa, sizeof(sa)) < 0);
    /* The writer reports overflow. */
    uint8_t small[4];
    amf0_writer_t w;
    amf0_w_init(&w, small, sizeof(small));
    amf0_w_string(&w, "too long for four bytes");
    assert_int_not_equal(w.err, 0);
}

TEST_MAIN(cmocka_unit_test(test_roundtrip_command),
          cmocka_unit_test(test_ecma_array_metadata),
          cmocka_unit_test(test_bounds))
