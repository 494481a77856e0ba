/* The output's playlists read back, for a worker that continues a stream. */
#include "hls_continue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"

/* The longest playlist read back from the output. */
#define PLAYLIST_MAX (256 * 1024)

int hls_continue_playlist_next(const char *text, uint64_t *next)
{
    const char *p = strstr(text, "#EXTM3U");
    if (!p || strstr(text, "#EXT-X-STREAM-INF"))
        return -ENOENT;
    uint64_t seq = 0, n = 0;
    bool media = false;
    for (const char *line = text; line && *line;) {
        if (!strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22)) {
            seq = strtoull(line + 22, NULL, 10);
            media = true;
        } else if (!strncmp(line, "#EXTINF:", 8)) {
            n++;
            media = true;
        } else if (!strncmp(line, "#EXT-X-TARGETDURATION:", 22)) {
            media = true;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (!media)
        return -ENOENT;
    *next = seq + n;
    return 0;
}

bool hls_continue_next_sequence(const char *output,
                                const ladder_profile_t *profile,
                                const origin_access_t *access, uint64_t *next)
{
    bool found = false;
    *next = 0;
    for (int i = 0; i < profile->nrungs; i++) {
        const ladder_rung_t *g = &profile->rungs[i];
        char name[LADDER_NAME_MAX + 16], url[1400];
        if (g->name[0])
            snprintf(name, sizeof(name), "%s", g->name);
        else
            continue;
        snprintf(url, sizeof(url), "%s/%s/index.m3u8", output, name);
        char *text = origin_read_text(url, PLAYLIST_MAX, access);
        uint64_t n;
        if (text && hls_continue_playlist_next(text, &n) == 0) {
            found = true;
            if (n > *next)
                *next = n;
        }
        free(text);
    }
    return found;
}
