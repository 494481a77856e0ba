/* The API's route table against docs/openapi.json: every route the
 * coordinator answers is documented, and every documented operation is a
 * route. (tests/e2e/farm_api.sh walks the document against a live
 * coordinator.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "coord_api.h"
#include "test_main.h"

static json_t *openapi(void)
{
    const char *src = getenv("PRISM_SOURCE_DIR");
    assert_non_null(src);
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/openapi.json", src);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc)
        fail_msg("%s:%d: %s", path, je.line, je.text);
    return doc;
}

static bool routed(const char *method, const char *path)
{
    for (size_t i = 0; i < coord_api_route_count(); i++) {
        const char *m, *p;
        coord_api_route(i, &m, &p);
        if (!strcmp(m, method) && !strcmp(p, path))
            return true;
    }
    return false;
}

static void test_every_route_documented(void **state)
{
    (void)state;
    json_t *doc = openapi();
    json_t *paths = json_object_get(doc, "paths");
    assert_non_null(paths);
    for (size_t i = 0; i < coord_api_route_count(); i++) {
        const char *m, *p;
        coord_api_route(i, &m, &p);
        char lower[16];
        size_t n = 0;
        for (; m[n] && n + 1 < sizeof(lower); n++)
            lower[n] = (char)tolower((unsigned char)m[n]);
        lower[n] = '\0';
        if (!json_object_get(json_object_get(paths, p), lower))
            fail_msg("%s %s is routed but not in docs/openapi.json", m, p);
    }
    json_decref(doc);
}

static void test_every_documented_operation_routed(void **state)
{
    (void)state;
    json_t *doc = openapi();
    const char *path;
    json_t *item;
    int ops = 0;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            if (!strcmp(method, "parameters"))
                continue;
            char upper[16];
            size_t n = 0;
            for (; method[n] && n + 1 < sizeof(upper); n++)
                upper[n] = (char)toupper((unsigned char)method[n]);
            upper[n] = '\0';
            if (!routed(upper, path))
                fail_msg("docs/openapi.json has %s %s; the server has no "
                         "such route",
                         upper, path);
            if (!json_object_get(op, "responses"))
                fail_msg("%s %s documents no responses", upper, path);
            ops++;
        }
    }
    assert_int_equal((size_t)ops, coord_api_route_count());
    json_decref(doc);
}

TEST_MAIN(cmocka_unit_test(test_every_route_documented),
          cmocka_unit_test(test_every_documented_operation_routed))
