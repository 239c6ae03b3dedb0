/* emotiond-web's preview: the hello's preview state, a preview message's JPEG decoded
 * into memory (common/base64, tested in test_base64) and its message handed on without
 * the picture, references that keep a picture alive while a response sends it, and bad
 * messages that leave the latest picture in place. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preview.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

static void test_hello_states(void **state)
{
    (void)state;
    struct preview p = {0};
    json_t *h = parse("{\"type\":\"hello\",\"protocol\":1}");
    preview_hello(&p, h);
    assert_int_equal(p.state, PREVIEW_UNKNOWN);
    assert_string_equal(preview_state_name(p.state), "unknown");
    json_decref(h);
    h = parse("{\"type\":\"hello\",\"preview\":{\"enabled\":false}}");
    preview_hello(&p, h);
    assert_int_equal(p.state, PREVIEW_DISABLED);
    assert_string_equal(preview_state_name(p.state), "disabled");
    json_decref(h);
    h = parse("{\"type\":\"hello\",\"preview\":{\"enabled\":true,\"width\":320,\"fps\":2}}");
    preview_hello(&p, h);
    assert_int_equal(p.state, PREVIEW_ENABLED);
    assert_int_equal(p.width, 320);
    assert_float_equal(p.fps, 2, 1e-9);
    json_decref(h);
    preview_clear(&p);
}

/* "\xFF\xD8\xFF\xE0" + "JFIF" base64: the start of a JPEG */
#define JPEG_B64 "/9j/4EpGSUY="

static void test_take_ref_and_clear(void **state)
{
    (void)state;
    struct preview p = {0};
    char err[128];
    json_t *msg = parse("{\"type\":\"preview\",\"seq\":7,\"ts\":1.5,\"width\":320,\"height\":240,"
                        "\"frame_width\":640,\"frame_height\":480,\"faces\":[{\"id\":3,"
                        "\"box\":[1,2,3,4],\"label\":\"happiness\",\"confidence\":0.9}],"
                        "\"jpeg\":\"" JPEG_B64 "\"}");
    json_t *meta = preview_take(&p, msg, err, sizeof err);
    assert_non_null(meta);
    assert_null(json_object_get(meta, "jpeg"));              /* the picture is not passed on */
    assert_int_equal(json_integer_value(json_object_get(meta, "bytes")), 8);
    assert_int_equal(json_integer_value(json_object_get(meta, "seq")), 7);
    assert_int_equal(json_array_size(json_object_get(meta, "faces")), 1);
    assert_non_null(json_object_get(msg, "jpeg"));           /* the message is left as it was */
    json_decref(meta);
    assert_int_equal(p.state, PREVIEW_ENABLED);
    assert_int_equal(p.received, 1);

    struct preview_jpeg *held = preview_ref(&p);            /* a response is sending it */
    assert_non_null(held);
    assert_int_equal(held->len, 8);
    assert_memory_equal(held->data, "\xFF\xD8\xFF\xE0JFIF", 8);
    /* a newer picture replaces it; the held one stays valid until let go */
    meta = preview_take(&p, msg, err, sizeof err);
    json_decref(meta);
    assert_ptr_not_equal(p.jpeg, held);
    assert_memory_equal(held->data, "\xFF\xD8\xFF\xE0JFIF", 8);
    preview_unref(held);

    /* bad messages: counted, the latest picture kept */
    const char *bad[] = {"{\"type\":\"preview\"}", "{\"type\":\"preview\",\"jpeg\":7}",
                         "{\"type\":\"preview\",\"jpeg\":\"not base64!\"}",
                         "{\"type\":\"preview\",\"jpeg\":\"aGVsbG8gd29ybGQ=\"}"};  /* not a JPEG */
    const char *why[] = {"without", "without", "not base64", "not a JPEG"};
    struct preview_jpeg *latest = p.jpeg;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = parse(bad[i]);
        assert_null(preview_take(&p, b, err, sizeof err));
        if (!strstr(err, why[i]))
            fail_msg("'%s' for %s", err, bad[i]);
        json_decref(b);
    }
    assert_int_equal(p.bad, 4);
    assert_ptr_equal(p.jpeg, latest);

    /* the daemon goes away: no picture, the state unknown, the counts kept */
    preview_clear(&p);
    assert_null(preview_ref(&p));
    assert_int_equal(p.state, PREVIEW_UNKNOWN);
    assert_int_equal(p.received, 2);
    /* a hello that turns it off drops the picture too */
    meta = preview_take(&p, msg, err, sizeof err);
    json_decref(meta);
    json_t *off = parse("{\"type\":\"hello\",\"preview\":{\"enabled\":false}}");
    preview_hello(&p, off);
    assert_null(preview_ref(&p));
    json_decref(off);
    json_decref(msg);
    preview_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_states),
        cmocka_unit_test(test_take_ref_and_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
