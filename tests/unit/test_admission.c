/* Tests of the ingest's admission table: replies, bound, expiry, askers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "clock.h"

#define TIMEOUT_MS 1000

/* What the table sent and answered, as the event loop would see it. */
typedef struct {
    int requests, ends;
    uint64_t last_id;
    char last_key[64], last_addr[64];
    int last_protocol;
    int answers, afters;
    void *answer_conn, *after_conn;
    publisher_t *answer_pub;
    char answer_reason[256];
} seen_t;

typedef struct {
    hub_t *hub;
    publisher_list_t *pubs;
    addr_limit_t *limits;
    admission_t *adm;
    seen_t seen;
} fixture_t;

static void cb_send(void *opaque, Prism__Envelope *env)
{
    seen_t *s = opaque;
    if (env->body_case == PRISM__ENVELOPE__BODY_STREAM_END) {
        s->ends++;
        return;
    }
    assert_int_equal(env->body_case, PRISM__ENVELOPE__BODY_PUBLISH_REQUEST);
    const Prism__PublishRequest *r = env->publish_request;
    assert_string_equal(r->ingest_id, "ingest-t");
    s->requests++;
    s->last_id = r->request_id;
    s->last_protocol = (int)r->protocol;
    snprintf(s->last_key, sizeof(s->last_key), "%s", r->stream_key);
    snprintf(s->last_addr, sizeof(s->last_addr), "%s", r->remote_addr);
}

static void cb_answer(void *opaque, void *conn, publisher_t *p,
                      const char *reason)
{
    seen_t *s = opaque;
    s->answers++;
    s->answer_conn = conn;
    s->answer_pub = p;
    snprintf(s->answer_reason, sizeof(s->answer_reason), "%s", reason);
}

static void cb_after(void *opaque, void *conn)
{
    seen_t *s = opaque;
    s->afters++;
    s->after_conn = conn;
}

static fixture_t *fixture(bool coordinated)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    hub_limits_t hl = {100, 1 << 20, 4, 8, 0};
    f->hub = hub_new(NULL, "ingest-t", &hl);
    f->pubs = publisher_list_new(f->hub, cb_send, &f->seen);
    f->limits = addr_limit_new(64, 10, 2, 60000);
    admission_cbs_t cbs = {cb_send, cb_answer, cb_after, &f->seen};
    f->adm = admission_new(&cbs, f->pubs, f->limits, "ingest-t", coordinated,
                           TIMEOUT_MS);
    assert_non_null(f->hub);
    assert_non_null(f->pubs);
    assert_non_null(f->limits);
    assert_non_null(f->adm);
    return f;
}

static void fixture_free(fixture_t *f)
{
    admission_free(&f->adm);
    assert_null(f->adm);
    publisher_list_free(&f->pubs, "test over");
    hub_free(&f->hub);
    addr_limit_free(&f->limits);
    free(f);
}

static int setup_coordinated(void **state)
{
    *state = fixture(true);
    return 0;
}

static int setup_open(void **state)
{
    *state = fixture(false);
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* An SRT question as the listen callback makes it; the test keeps one
 * reference, so the answer does not free it. */
static srt_admit_t *srt_question(const char *key, const char *addr)
{
    srt_admit_t *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    atomic_init(&q->ref, 2);
    snprintf(q->key, sizeof(q->key), "%s", key);
    snprintf(q->addr, sizeof(q->addr), "%s", addr);
    return q;
}

static void srt_question_free(srt_admit_t *q)
{
    assert_int_equal(atomic_load(&q->ref), 1); /* the table let go */
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

static void ask_rtmp(fixture_t *f, void *conn, const char *key,
                     const char *addr)
{
    admission_ask(f->adm, PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_RTMP, conn,
                  NULL, key, addr, "obs");
}

static void ask_srt(fixture_t *f, srt_admit_t *q)
{
    admission_ask(f->adm, PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT, NULL, q,
                  q->key, q->addr, "");
}

static Prism__PublishReply reply(uint64_t id, bool accepted,
                                 const char *stream_id, const char *reason)
{
    Prism__PublishReply r = PRISM__PUBLISH_REPLY__INIT;
    r.request_id = id;
    r.accepted = accepted;
    r.stream_id = (char *)stream_id;
    r.subscribe_token = "tok";
    r.reason = (char *)reason;
    return r;
}

static void test_replies(void **state)
{
    fixture_t *f = *state;
    int conn_a, conn_b, conn_c;
    ask_rtmp(f, &conn_a, "key-a", "192.0.2.1");
    assert_int_equal(f->seen.requests, 1);
    uint64_t id_a = f->seen.last_id;
    assert_string_equal(f->seen.last_key, "key-a");
    assert_string_equal(f->seen.last_addr, "192.0.2.1");
    assert_int_equal(f->seen.last_protocol,
                     PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_RTMP);
    ask_rtmp(f, &conn_b, "key-b", "192.0.2.2");
    uint64_t id_b = f->seen.last_id;
    assert_int_not_equal(id_a, id_b);
    assert_int_equal(f->seen.answers, 0); /* both wait */

    /* A refusal without a reason gets one; the connection may close. */
    Prism__PublishReply r = reply(id_b, false, NULL, NULL);
    admission_reply(f->adm, &r);
    assert_int_equal(f->seen.answers, 1);
    assert_ptr_equal(f->seen.answer_conn, &conn_b);
    assert_null(f->seen.answer_pub);
    assert_string_equal(f->seen.answer_reason, "stream key refused");
    assert_int_equal(f->seen.afters, 1);
    assert_ptr_equal(f->seen.after_conn, &conn_b);

    r = reply(id_a, true, "stream-a", NULL);
    admission_reply(f->adm, &r);
    assert_int_equal(f->seen.answers, 2);
    assert_ptr_equal(f->seen.answer_conn, &conn_a);
    assert_non_null(f->seen.answer_pub);
    assert_string_equal(publisher_stream_id(f->seen.answer_pub), "stream-a");
    assert_int_equal(f->seen.afters, 2);
    assert_int_equal(publisher_list_live(f->pubs), 1);

    /* The same reply again finds nothing waiting. */
    admission_reply(f->adm, &r);
    assert_int_equal(f->seen.answers, 2);

    /* A stream id already live in the hub is refused. */
    ask_rtmp(f, &conn_c, "key-c", "192.0.2.3");
    r = reply(f->seen.last_id, true, "stream-a", NULL);
    admission_reply(f->adm, &r);
    assert_null(f->seen.answer_pub);
    assert_string_equal(f->seen.answer_reason, "stream already live");

    /* Accepted without a stream id is refused too. */
    ask_rtmp(f, &conn_c, "key-c", "192.0.2.3");
    r = reply(f->seen.last_id, true, "", NULL);
    admission_reply(f->adm, &r);
    assert_null(f->seen.answer_pub);
    assert_string_equal(f->seen.answer_reason, "coordinator gave no stream id");

    uint64_t admitted, refused;
    admission_counts(f->adm, &admitted, &refused);
    assert_int_equal(admitted, 1);
    assert_int_equal(refused, 3);
}

/* At most ADMISSION_MAX wait; one more is refused at once, unasked. */
static void test_table_bound(void **state)
{
    fixture_t *f = *state;
    static int conns[ADMISSION_MAX + 1];
    for (int i = 0; i < ADMISSION_MAX; i++)
        ask_rtmp(f, &conns[i], "key", "192.0.2.1");
    assert_int_equal(f->seen.requests, ADMISSION_MAX);
    assert_int_equal(f->seen.answers, 0);
    ask_rtmp(f, &conns[ADMISSION_MAX], "key", "192.0.2.1");
    assert_int_equal(f->seen.requests, ADMISSION_MAX);
    assert_int_equal(f->seen.answers, 1);
    assert_ptr_equal(f->seen.answer_conn, &conns[ADMISSION_MAX]);
    assert_string_equal(f->seen.answer_reason, "ingest busy");
    assert_int_equal(f->seen.afters, 0); /* answered inside the ask */

    /* SRT shares the table: full for it too, with the overload code. */
    srt_admit_t *q = srt_question("key", "192.0.2.9");
    ask_srt(f, q);
    assert_true(q->done);
    assert_false(q->accepted);
    assert_int_equal(q->reject_code, 1402);
    srt_question_free(q);

    /* An answer frees a place. */
    Prism__PublishReply r = reply(f->seen.last_id, false, NULL, "no");
    admission_reply(f->adm, &r);
    ask_rtmp(f, &conns[ADMISSION_MAX], "key", "192.0.2.1");
    assert_int_equal(f->seen.requests, ADMISSION_MAX + 1);
}

static void test_expiry(void **state)
{
    fixture_t *f = *state;
    int conn;
    int64_t asked = clock_mono_ms();
    ask_rtmp(f, &conn, "key", "192.0.2.1");
    srt_admit_t *q = srt_question("key2", "192.0.2.2");
    ask_srt(f, q);
    assert_int_equal(f->seen.requests, 2);
    assert_int_equal(f->seen.last_protocol,
                     PRISM__INGEST_PROTOCOL__INGEST_PROTOCOL_SRT);
    admission_expire(f->adm, asked);
    assert_int_equal(f->seen.answers, 0);
    assert_false(q->done);

    admission_expire(f->adm, clock_mono_ms() + TIMEOUT_MS);
    assert_int_equal(f->seen.answers, 1);
    assert_ptr_equal(f->seen.answer_conn, &conn);
    assert_string_equal(f->seen.answer_reason, "coordinator did not answer");
    assert_int_equal(f->seen.afters, 1);
    assert_true(q->done);
    assert_false(q->accepted);
    assert_int_equal(q->reject_code, 1503);
    srt_question_free(q);

    /* A timeout is no refused key: the address is not blocked. */
    assert_false(addr_limit_blocked(f->limits, "192.0.2.1", clock_mono_ms()));
}

/* A connection that leaves during its admission gets no answer; an
 * admitting reply opens and at once ends its publisher. */
static void test_forget(void **state)
{
    fixture_t *f = *state;
    int conn;
    ask_rtmp(f, &conn, "key", "192.0.2.1");
    admission_forget(f->adm, &conn);
    Prism__PublishReply r = reply(f->seen.last_id, true, "stream-x", NULL);
    admission_reply(f->adm, &r);
    assert_int_equal(f->seen.answers, 0);
    assert_int_equal(f->seen.afters, 0);
    assert_int_equal(f->seen.ends, 1);
    assert_int_equal(publisher_list_live(f->pubs), 0);
}

/* Refused keys count per address; past the limit the ingest answers
 * itself. An empty key counts too. */
static void test_bad_keys(void **state)
{
    fixture_t *f = *state;
    int conn;
    ask_rtmp(f, &conn, "", "198.51.100.4");
    assert_int_equal(f->seen.requests, 0);
    assert_string_equal(f->seen.answer_reason, "empty stream key");
    ask_rtmp(f, &conn, "bad", "198.51.100.4");
    Prism__PublishReply r = reply(f->seen.last_id, false, NULL, "unknown");
    admission_reply(f->adm, &r);
    assert_string_equal(f->seen.answer_reason, "unknown");

    srt_admit_t *q = srt_question("other", "198.51.100.4");
    ask_srt(f, q);
    assert_int_equal(f->seen.requests, 1); /* not asked */
    assert_true(q->done);
    assert_int_equal(q->reject_code, 1402);
    assert_string_equal(q->reason, "too many refused keys, retry later");
    srt_question_free(q);
}

/* Without a coordinator every key is admitted, stream id = key. */
static void test_open_mode(void **state)
{
    fixture_t *f = *state;
    srt_admit_t *q = srt_question("live1", "192.0.2.5");
    ask_srt(f, q);
    assert_int_equal(f->seen.requests, 0);
    assert_true(q->done);
    assert_true(q->accepted);
    assert_string_equal(q->stream_id, "live1");
    assert_non_null(q->publisher);
    assert_int_equal(publisher_list_live(f->pubs), 1);
    srt_question_free(q);
    publisher_list_free(&f->pubs, "test over");
    assert_int_equal(f->seen.ends, 1);
}

/* Freeing the table answers the SRT questions still waiting. */
static void test_shutdown(void **state)
{
    fixture_t *f = *state;
    srt_admit_t *q = srt_question("key", "192.0.2.6");
    ask_srt(f, q);
    assert_false(q->done);
    admission_free(&f->adm);
    assert_true(q->done);
    assert_int_equal(q->reject_code, 1503);
    assert_string_equal(q->reason, "shutting down");
    srt_question_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replies, setup_coordinated,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_table_bound, setup_coordinated,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup_coordinated,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forget, setup_coordinated,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_keys, setup_coordinated,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_open_mode, setup_open, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, setup_coordinated,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
