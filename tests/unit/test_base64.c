/* Base64 (common/base64.h): RFC 4648's test vectors both ways, every byte value round
 * trip at every length modulo 3, and what the decoder refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base64.h"

/* RFC 4648, section 10 */
static const struct {
    const char *plain, *encoded;
} VECTORS[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof *VECTORS; i++) {
        const char *plain = VECTORS[i].plain, *encoded = VECTORS[i].encoded;
        char out[16];
        memset(out, '#', sizeof out);
        assert_int_equal(base64_encoded_len(strlen(plain)), strlen(encoded));
        size_t n = base64_encode(plain, strlen(plain), out);
        assert_int_equal(n, strlen(encoded));
        assert_memory_equal(out, encoded, n);
        assert_int_equal(out[n], '#');             /* nothing written past the end */
        uint8_t back[16];
        assert_int_equal(base64_decode(encoded, strlen(encoded), back, sizeof back),
                         (long)strlen(plain));
        assert_memory_equal(back, plain, strlen(plain));
    }
}

/* The two characters beyond the letters and digits, and the high bits. */
static void test_alphabet_edges(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83};
    char out[8];
    assert_int_equal(base64_encode(bytes, sizeof bytes, out), 8);
    assert_memory_equal(out, "+/+/ABCD", 8);
}

static void test_every_byte_round_trip(void **state)
{
    (void)state;
    uint8_t data[258], back[258];
    char text[400];
    for (int i = 0; i < 258; i++)
        data[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof data; len++) {
        size_t n = base64_encode(data, len, text);
        assert_int_equal(n, base64_encoded_len(len));
        assert_int_equal(n % 4, 0);
        for (size_t k = 0; k < n; k++)   /* JSON-safe: nothing to escape */
            assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789+/=", text[k]) && text[k] != '\0');
        assert_int_equal(base64_decode(text, n, back, sizeof back), (long)len);
        assert_memory_equal(back, data, len);
        if (len) /* one byte short of room: refused, never overrun */
            assert_int_equal(base64_decode(text, n, back, len - 1), -1);
    }
}

static void test_decoder_refuses_what_is_not_base64(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg=",       /* length not a multiple of 4 */
        "Zg==Zg==",  /* padding before the end */
        "Z===",      /* three padding characters */
        "Zm=v",      /* padding inside a group */
        "Zh==",      /* padding bits not zero (non-canonical 'f') */
        "Zm9=",      /* the same with one padding character */
        "Zm9\n",     /* white space */
        "Zm 9",      /* a space */
        "Zm-_",      /* the URL-safe alphabet is another encoding */
    };
    uint8_t out[16];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (base64_decode(bad[i], strlen(bad[i]), out, sizeof out) != -1)
            fail_msg("'%s' was accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_alphabet_edges),
        cmocka_unit_test(test_every_byte_round_trip),
        cmocka_unit_test(test_decoder_refuses_what_is_not_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
