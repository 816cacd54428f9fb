/* net/tls crypto primitives against published vectors, and the strict base64 codec. */
#include "net/tls.h"
#include "../harness.h"

static void
hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

TEST(sha256_vectors)
{
    uint8_t d[32];
    char h[65];
    CHECK_INT(pgr_crypto_sha256("abc", 3, d), 0);
    hex(d, 32, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(pgr_crypto_sha256(NULL, 0, d), 0);
    hex(d, 32, h);
    CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(hmac_sha256_rfc4231)
{
    uint8_t d[32];
    char h[65];
    /* RFC 4231 test case 2 */
    CHECK_INT(pgr_crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d), 0);
    hex(d, 32, h);
    CHECK_STR(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* test case 1: key 20 x 0x0b, "Hi There" */
    uint8_t key[20];
    memset(key, 0x0b, sizeof(key));
    CHECK_INT(pgr_crypto_hmac_sha256(key, sizeof(key), "Hi There", 8, d), 0);
    hex(d, 32, h);
    CHECK_STR(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(pbkdf2_sha256_vectors)
{
    uint8_t d[32];
    char h[65];
    CHECK_INT(pgr_crypto_pbkdf2_sha256("password", 8, (const uint8_t *)"salt", 4, 1, d), 0);
    hex(d, 32, h);
    CHECK_STR(h, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    CHECK_INT(pgr_crypto_pbkdf2_sha256("password", 8, (const uint8_t *)"salt", 4, 4096, d), 0);
    hex(d, 32, h);
    CHECK_STR(h, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    CHECK_INT(pgr_crypto_pbkdf2_sha256("password", 8, (const uint8_t *)"salt", 4, 0, d), PGR_EINVAL);
}

TEST(md5_hex_vectors)
{
    char h[33];
    CHECK_INT(pgr_crypto_md5_hex("", 0, h), 0);
    CHECK_STR(h, "d41d8cd98f00b204e9800998ecf8427e");
    CHECK_INT(pgr_crypto_md5_hex("abc", 3, h), 0);
    CHECK_STR(h, "900150983cd24fb0d6963f7d28e17f72");
}

TEST(memeq_and_random)
{
    CHECK(pgr_crypto_memeq("abcd", "abcd", 4));
    CHECK(!pgr_crypto_memeq("abcd", "abce", 4));
    CHECK(pgr_crypto_memeq("x", "y", 0));
    uint8_t a[32] = {0}, b[32] = {0}, z[32] = {0};
    CHECK_INT(pgr_tls_random(a, sizeof(a)), 0);
    CHECK_INT(pgr_tls_random(b, sizeof(b)), 0);
    CHECK(memcmp(a, z, 32) != 0);
    CHECK(memcmp(a, b, 32) != 0);
    CHECK_INT(pgr_tls_random(a, 0), 0);
    char w[8] = "secret!";
    pgr_crypto_wipe(w, sizeof(w));
    CHECK(memcmp(w, z, sizeof(w)) == 0);
}

/* RFC 4648 section 10 */
TEST(base64_rfc4648_vectors)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n = strlen(in[i]);
        CHECK_INT(pgr_crypto_base64_enc_len(n), strlen(want[i]));
        CHECK_INT(pgr_crypto_base64_encode((const uint8_t *)in[i], n, enc, sizeof(enc)),
                  strlen(want[i]));
        CHECK_STR(enc, want[i]);
        CHECK_INT(pgr_crypto_base64_decode(want[i], strlen(want[i]), dec, sizeof(dec)), n);
        CHECK(memcmp(dec, in[i], n) == 0);
    }
}

TEST(base64_binary_round_trip)
{
    uint8_t src[256], dec[256];
    char enc[400];
    for (int i = 0; i < 256; i++)
        src[i] = (uint8_t)(255 - i);
    for (size_t n = 0; n <= 256; n += 37) {
        int e = pgr_crypto_base64_encode(src, n, enc, sizeof(enc));
        CHECK_INT(e, pgr_crypto_base64_enc_len(n));
        CHECK_INT(pgr_crypto_base64_decode(enc, (size_t)e, dec, sizeof(dec)), n);
        CHECK(memcmp(src, dec, n) == 0);
    }
}

TEST(base64_rejects)
{
    uint8_t d[64];
    static const char *bad[] = {
        "Zg=",       /* length not a multiple of 4 */
        "Z",         /* same */
        "Zg=a",      /* data after a pad */
        "Z===",      /* three pads */
        "====",      /* only pads */
        "=Zm9",      /* pad first */
        "Zg==Zg==",  /* pad inside */
        "Zh==",      /* non-zero bits under the pad (not canonical) */
        "Zm9=",      /* same, one pad */
        "Zm9v\n",    /* whitespace */
        "Zm 9",      /* space */
        "Zm8-",      /* URL-safe alphabet */
        "Zm8_",
        "Zm9\x80",   /* high byte */
    };
    for (size_t i = 0; i < PGR_ARRAY_LEN(bad); i++) {
        int rc = pgr_crypto_base64_decode(bad[i], strlen(bad[i]), d, sizeof(d));
        if (rc != PGR_EINVAL)
            printf("# base64 accepted bad input #%zu\n", i);
        CHECK_INT(rc, PGR_EINVAL);
    }
    /* An embedded NUL is not base64 either (the length says it is part of the input). */
    CHECK_INT(pgr_crypto_base64_decode("Zm\0v", 4, d, sizeof(d)), PGR_EINVAL);
}

TEST(base64_capacity)
{
    uint8_t d[5];
    char e[8];
    CHECK_INT(pgr_crypto_base64_decode("Zm9vYmFy", 8, d, sizeof(d)), PGR_ELIMIT);
    CHECK_INT(pgr_crypto_base64_decode("Zm9vYg==", 8, d, 4), 4);
    CHECK_INT(pgr_crypto_base64_decode("Zm9vYg==", 8, d, 3), PGR_ELIMIT);
    /* encode needs room for the NUL */
    CHECK_INT(pgr_crypto_base64_encode((const uint8_t *)"foo", 3, e, 4), PGR_EINVAL);
    CHECK_INT(pgr_crypto_base64_encode((const uint8_t *)"foo", 3, e, 5), 4);
    CHECK_STR(e, "Zm9v");
    CHECK_INT(pgr_crypto_base64_dec_len(8), 6);
}

int
main(void)
{
    return RUN(sha256_vectors, hmac_sha256_rfc4231, pbkdf2_sha256_vectors, md5_hex_vectors,
               memeq_and_random, base64_rfc4648_vectors, base64_binary_round_trip, base64_rejects,
               base64_capacity);
}
