/* Tests for worker/hls_continue: a playlist read back from the output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>

#include "hls_continue.h"
#include "test_main.h"

static void test_playlist_next(void **state)
{
    (void)state;
    uint64_t n = 0;
    assert_int_equal(hls_continue_playlist_next(
                         "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:"
                         "2\n#EXT-X-MEDIA-SEQUENCE:41\n#EXTINF:2.000,\nseg_"
                         "00041.ts\n#EXTINF:2.000,\nseg_00042.ts\n#EXT-X-"
                         "DISCONTINUITY\n#EXTINF:1.5,\nseg_00043.ts\n",
                         &n),
                     0);
    assert_int_equal(n, 44);
    assert_int_equal(
        hls_continue_playlist_next("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
                                   "#EXTINF:2.0,\na.ts\n",
                                   &n),
        0);
    assert_int_equal(n, 1); /* no MEDIA-SEQUENCE: it starts at 0 */
    assert_int_equal(
        hls_continue_playlist_next(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n", &n),
        -ENOENT);
    assert_int_equal(hls_continue_playlist_next("<html>404</html>", &n),
                     -ENOENT);
}

TEST_MAIN(cmocka_unit_test(test_playlist_next))
