/* Segment alignment: where segments are cut, which frames go on, jumps. */
#ifndef PRISM_SEGMENT_ALIGN_H
#define PRISM_SEGMENT_ALIGN_H

/*
 * The decisions behind the transcode session's aligned segments, as pure
 * functions over plain values (times in a time base the caller names, and
 * small state structs the caller owns), so that tables can test them:
 *
 * - segment_align_decide: whether a source video packet is a segment
 *   boundary (the frame every rendition cuts at);
 * - segment_align_ring_*: the boundaries not yet reached by every video
 *   rendition, and which are complete;
 * - segment_align_select: which frames a rendition keeps (boundary frames
 *   always), and its frames' times on an even grid of its rate;
 * - segment_align_disc: the shift that keeps input timestamps continuous
 *   across a jump;
 * - segment_align_resume: where a continued stream's output begins;
 * - segment_align_audio_cut, segment_align_joins_tail: an audio-only
 *   rendition's cut, and a VOD's short last segment.
 *
 * Nothing here allocates, logs or locks; every struct belongs to the
 * caller's thread (the session thread).
 */

#include <stdbool.h>
#include <stdint.h>

/* Boundaries waiting for every video rendition (a rendition that lost
 * one frees it when this many more come). */
#define SEGMENT_ALIGN_RING 64
/* A continued stream's first packet mapped further back than this from
 * the published end is not the same timeline (a publisher reconnect). */
#define SEGMENT_ALIGN_RESUME_BACK_US 15000000LL
/* A dts this far behind, or this far ahead of, the last is a break. */
#define SEGMENT_ALIGN_DISC_BACK_US 500000LL
#define SEGMENT_ALIGN_DISC_JUMP_US 10000000LL
/* An audio-only rendition cuts this much before a whole target (a packet
 * of 21.3 ms that ends just short of it would make the segment late). */
#define SEGMENT_ALIGN_AUDIO_SLACK_US 5000LL

/* A frame at the source's rate this many slots after its count follows a
 * gap (the source skipped frames), one this many before it is one too
 * many: GStreamer's live B-frames come up to a frame late (more on a
 * loaded host), and a late boundary makes the frames after it look early.
 */
#define SEGMENT_ALIGN_SLACK_SLOTS 2.5

/* The boundary grid of a session, in the source video time base. */
typedef struct {
    int64_t seg_ticks;  /* the target duration */
    int64_t half_frame; /* half a source frame; 0 when the rate is unknown */
    int64_t last_key;   /* the last source keyframe */
    int64_t key_gap;    /* the interval that ended at it */
    bool have_key;
    int64_t last_bnd; /* the last boundary */
    bool have_bnd;
} segment_align_t;

/* Starts A for a target of SEG_TICKS and half a frame of HALF_FRAME. */
void segment_align_init(segment_align_t *a, int64_t seg_ticks,
                        int64_t half_frame);

/*
 * Whether the video packet at PTS (KEY: a source keyframe) is a segment
 * boundary, which A then records. The first boundary is the first
 * keyframe that FIRST_OK allows (a continued stream's resume point). Then:
 * when every rendition is encoded (REMUXING false: a forced IDR can go
 * anywhere), the frame a whole target (less half a frame) after the last
 * boundary; when one remuxes the source, the keyframe nearest the target
 * (this one when the next, expected one key_gap later, would be further
 * from it; never before half a target), or any packet once two targets
 * passed without a keyframe.
 */
bool segment_align_decide(segment_align_t *a, int64_t pts, bool key,
                          bool remuxing, bool first_ok);

/* One boundary: its pts, when its packet was read (microseconds) and the
 * renditions (bit i) that reached it. */
typedef struct {
    int64_t pts;
    int64_t read_us;
    uint32_t reached;
} segment_align_bnd_t;

/* The open boundaries, oldest first: [tail, head) of b, modulo its size. */
typedef struct {
    segment_align_bnd_t b[SEGMENT_ALIGN_RING];
    int64_t head, tail;
} segment_align_ring_t;

/* Adds a boundary; a full ring forgets its oldest. */
void segment_align_ring_push(segment_align_ring_t *g, int64_t pts,
                             int64_t read_us);

/* Whether PTS is an open boundary. */
bool segment_align_ring_has(const segment_align_ring_t *g, int64_t pts);

/* Rendition REND reached the boundary at PTS (none when PTS is not one). */
void segment_align_ring_reach(segment_align_ring_t *g, int rend, int64_t pts);

/* Takes the oldest boundary when every rendition in ALL (bit i: rendition
 * i) reached it, into *OUT. Returns whether it took one. */
bool segment_align_ring_pop(segment_align_ring_t *g, uint32_t all,
                            segment_align_bnd_t *out);

/* A rendition's frame selection: the last boundary frame's time, how far
 * back (<= 0) the earliest frame since has moved its grid, the output
 * frame slot last kept after it, and the empty slots before the frame
 * last kept that the caller fills. */
typedef struct {
    int64_t phase_us;
    int64_t early_us;
    int64_t last_slot;
    int64_t fill;
    bool any;
} segment_align_sel_t;

/*
 * Which frames a rendition of FPS_NUM/FPS_DEN encodes, and at what time
 * (*OUT_US): its frames are on an even grid of that rate from the last
 * boundary, which is always kept at its own time (as is the first frame),
 * so every rendition cuts there.
 * - FRAME_STEP > 1 (60->30): a frame is kept when its pts (PTS_US) starts
 *   a new slot of the grid, so 60->30 keeps every other frame in phase
 *   with the boundaries, and a dropped source frame does not shift the
 *   later ones.
 * - Otherwise (the source's own rate): frames are counted onto the grid,
 *   one slot each, so unevenly stamped frames come out even (GStreamer's
 *   live B-frames are stamped up to a frame late: 23 and 47 ms apart at
 *   30 fps). A frame more than SEGMENT_ALIGN_SLACK_SLOTS after its count
 *   goes to its own slot (the source skipped frames); one more than that
 *   before it is dropped (the source has more frames than the rate).
 * A frame's time out is never after its own, so times out increase as the
 * frames' own do and stay before the next boundary's: a frame earlier than
 * the grid keeps its time and moves the grid back to it for the rest of
 * the segment, so frames out are never more than a slot apart (without a
 * gap) even when the boundary that set the grid was itself stamped late.
 * A kept frame after a gap of at most a second sets sel->fill to the empty
 * slots before it, which the caller fills with copies of it (at
 * segment_align_slot_us of slots last_slot - fill .. last_slot - 1), so
 * an encoded rendition has no hole inside a segment: a frame three slots
 * long is what cuts an LL-HLS part short. Without a rate (FPS_NUM 0)
 * every frame keeps its own time.
 */
bool segment_align_select(segment_align_sel_t *sel, int frame_step, int fps_num,
                          int fps_den, int64_t pts_us, bool boundary,
                          int64_t *out_us);

/* The time of SLOT on SEL's grid (microseconds). */
int64_t segment_align_slot_us(const segment_align_sel_t *sel, int fps_num,
                              int fps_den, int64_t slot);

/* The input's timestamp shift: shift_us is added to every packet; last_us
 * per stream (0 video, 1 audio) after the shift. */
typedef struct {
    int64_t shift_us;
    int64_t last_us[2];
    bool have_last[2];
} segment_align_disc_t;

/*
 * A packet of STREAM (0 video, 1 audio) with dts US (microseconds, before
 * the shift) and a duration of STEP_US: when its dts jumps back by more
 * than SEGMENT_ALIGN_DISC_BACK_US, or forward by more than
 * SEGMENT_ALIGN_DISC_JUMP_US, the shift grows so the stream goes on STEP_US
 * after its last packet (*JUMP_US says by how much). Returns whether it
 * jumped.
 */
bool segment_align_disc(segment_align_disc_t *d, int stream, int64_t us,
                        int64_t step_us, int64_t *jump_us);

typedef enum {
    SEGMENT_ALIGN_PUBLISHED, /* before the published end: not output */
    SEGMENT_ALIGN_FOLLOWS,   /* the output begins here, mapping kept */
    SEGMENT_ALIGN_REBASE,    /* begins here, the mapping shifted */
} segment_align_resume_t;

/*
 * Where a continued stream's output begins: at the first packet whose
 * output time OUT_US reaches the published end RESUME_US within TOL_US.
 * When the input does not follow on (WAS_ID and NOW_ID, the publish ids of
 * the timeline and the source, differ where both are known; or the packet
 * is more than TOL_US off, or, ids unknown, more than
 * SEGMENT_ALIGN_RESUME_BACK_US before the end), the output begins here
 * anyway, and the mapping is to move by RESUME_US - OUT_US.
 */
segment_align_resume_t segment_align_resume(int64_t out_us, int64_t resume_us,
                                            int64_t tol_us, uint64_t was_id,
                                            uint64_t now_id);

/* Whether an audio-only rendition whose segment began at START_US (of
 * SEG_US target) cuts before a packet at OUT_US. */
bool segment_align_audio_cut(int64_t start_us, int64_t out_us, int64_t seg_us);

/* Whether a VOD's last segment of DUR_S joins the one before (shorter than
 * a quarter of the SEG_S target). */
bool segment_align_joins_tail(double dur_s, double seg_s);

#endif
