/* The thumbnail of a transcode session: a frame now and then as thumb.jpg. */
#ifndef PRISM_THUMBNAIL_H
#define PRISM_THUMBNAIL_H

#include <libavutil/frame.h>

#include "transcode_int.h"

/* Writes frame IN (borrowed; a device frame is downloaded first) as
 * thumb.jpg, on the session thread. A failure costs only the thumbnail;
 * an encoder that cannot open turns thumbnails off for the session. */
void thumbnail(transcode_session_t *s, const AVFrame *in);

#endif
