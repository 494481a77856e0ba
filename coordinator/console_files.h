/* The operator's console's files (console/ and hls.js), built into the
 * coordinator by coordinator/CMakeLists.txt and served by coord_http.c. */
#ifndef PRISM_CONSOLE_FILES_H
#define PRISM_CONSOLE_FILES_H

#include <stddef.h>

typedef struct {
    const char *url;   /* "/" for index.html, else "/console/NAME" */
    const char *ctype; /* Content-Type */
    const unsigned char *data;
    size_t len;
} console_file_t;

/* Ends with an entry whose url is NULL. */
extern const console_file_t console_files[];

#endif
