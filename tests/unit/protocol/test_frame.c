/* Framing: every form, NEED_MORE sizing, caps, limits, the writer and the reader. */
#include "protocol/frame.h"
#include "protocol/frontend.h"
#include "protocol/backend.h"
#include "protocol/reader.h"
#include "protocol/writer.h"
#include "../harness.h"

#define BYTES(s) (const uint8_t *)(s), sizeof(s) - 1

TEST(typed_ok_and_need_more)
{
    const uint8_t msg[] = "Q\0\0\0\x0dSELECT 1\0S\0\0\0\x04";
    size_t len = sizeof(msg) - 1;
    pgr_frame_t f;
    CHECK_INT(pgr_frame_next(msg, len, PGR_PHASE_FRONTEND, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(f.type, 'Q');
    CHECK_INT(f.len, 14);
    CHECK_INT(f.body_len, 9);
    CHECK(f.body == msg + 5);
    CHECK_INT(pgr_frame_next(msg + 14, len - 14, PGR_PHASE_FRONTEND, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(f.type, 'S');
    CHECK_INT(f.body_len, 0);
    /* every prefix of the Query asks for more; once the header is in, for exactly 14 */
    for (size_t k = 0; k < 14; k++) {
        CHECK_INT(pgr_frame_next(msg, k, PGR_PHASE_FRONTEND, NULL, &f), PGR_FRAME_NEED_MORE);
        CHECK_INT(f.need, k < 5 ? 5 : 14);
    }
    CHECK_INT(pgr_frame_next(NULL, 0, PGR_PHASE_BACKEND, NULL, &f), PGR_FRAME_NEED_MORE);
}

TEST(type_checked_before_length)
{
    pgr_frame_t f;
    /* one byte is enough to refuse an unknown type */
    CHECK_INT(pgr_frame_next(BYTES("Z"), PGR_PHASE_FRONTEND, NULL, &f), PGR_FRAME_BAD);
    CHECK_STR(f.sqlstate, "08P01");
    CHECK_STR(f.reason, "invalid frontend message type");
    CHECK_INT(pgr_frame_next(BYTES("Q"), PGR_PHASE_BACKEND, NULL, &f), PGR_FRAME_BAD);
    CHECK_STR(f.reason, "invalid backend message type");
    CHECK_INT(pgr_frame_next(BYTES("Z"), PGR_PHASE_BACKEND, NULL, &f), PGR_FRAME_NEED_MORE);
}

TEST(caps_and_limits)
{
    pgr_frame_t f;
    pgr_frame_limits_t lim;
    pgr_frame_limits_default(&lim);
    CHECK(lim.max_message_size == (size_t)1 << 30);
    CHECK_INT(lim.max_small_size, 10000);
    /* Query of exactly 1 GiB is fine (waits for its body), one byte more is not */
    CHECK_INT(pgr_frame_next(BYTES("Q\x40\0\0\0"), PGR_PHASE_FRONTEND, NULL, &f),
              PGR_FRAME_NEED_MORE);
    CHECK(f.need == ((size_t)1 << 30) + 1);
    CHECK_INT(pgr_frame_next(BYTES("Q\x40\0\0\x01"), PGR_PHASE_FRONTEND, NULL, &f),
              PGR_FRAME_BAD);
    CHECK_STR(f.reason, "message length exceeds limit");
    /* small messages: 10,000 */
    CHECK_INT(pgr_frame_next(BYTES("E\0\0\x27\x10"), PGR_PHASE_FRONTEND, NULL, &f),
              PGR_FRAME_NEED_MORE);
    CHECK_INT(pgr_frame_next(BYTES("E\0\0\x27\x11"), PGR_PHASE_FRONTEND, NULL, &f),
              PGR_FRAME_BAD);
    /* a configured limit */
    lim.max_message_size = 100;
    CHECK_INT(pgr_frame_next(BYTES("B\0\0\0\x64"), PGR_PHASE_FRONTEND, &lim, &f),
              PGR_FRAME_NEED_MORE);
    CHECK_INT(pgr_frame_next(BYTES("B\0\0\0\x65"), PGR_PHASE_FRONTEND, &lim, &f),
              PGR_FRAME_BAD);
    CHECK_INT(pgr_frame_next(BYTES("D\0\0\0\x65"), PGR_PHASE_BACKEND, &lim, &f), PGR_FRAME_BAD);
    /* fixed-size messages must have their size */
    CHECK_INT(pgr_frame_next(BYTES("Z\0\0\0\x05I"), PGR_PHASE_BACKEND, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(pgr_frame_next(BYTES("Z\0\0\0\x06IZ"), PGR_PHASE_BACKEND, NULL, &f),
              PGR_FRAME_BAD);
    CHECK_STR(f.reason, "invalid message length");
}

TEST(startup_forms)
{
    pgr_frame_t f;
    uint8_t buf[64];
    pgr_writer_t w;
    pgr_writer_init_fixed(&w, buf, sizeof(buf));
    CHECK_INT(pgr_fe_write_sslrequest(&w), 0);
    CHECK_INT(pgr_frame_next(buf, w.len, PGR_PHASE_STARTUP, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(f.startup, PGR_STARTUP_SSL);
    CHECK_INT(f.type, 0);
    CHECK_INT(f.len, 8);
    pgr_writer_reset(&w);
    CHECK_INT(pgr_fe_write_gssencrequest(&w), 0);
    CHECK_INT(pgr_frame_next(buf, w.len, PGR_PHASE_STARTUP, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(f.startup, PGR_STARTUP_GSSENC);
    pgr_writer_reset(&w);
    CHECK_INT(pgr_fe_write_cancel(&w, 11, 22), 0);
    CHECK_INT(pgr_frame_next(buf, w.len, PGR_PHASE_STARTUP, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(f.startup, PGR_STARTUP_CANCEL);
    CHECK_INT(f.len, 16);
    for (size_t k = 0; k < 16; k++) {
        CHECK_INT(pgr_frame_next(buf, k, PGR_PHASE_STARTUP, NULL, &f), PGR_FRAME_NEED_MORE);
        CHECK_INT(f.need, k < 4 ? 8 : 16);
    }
    pgr_fe_cancel_t c;
    CHECK_INT(pgr_fe_cancel_decode(f.body, f.body_len, &c), PGR_ETRUNC);
    CHECK_INT(pgr_frame_next(buf, 16, PGR_PHASE_STARTUP, NULL, &f), PGR_FRAME_OK);
    CHECK_INT(pgr_fe_cancel_decode(f.body, f.body_len, &c), 0);
    CHECK_INT(c.pid, 11);
    CHECK_INT(c.key, 22);
    /* startup packet limit: 10,000 bytes */
    CHECK_INT(pgr_frame_next(BYTES("\0\0\x27\x10\0\3\0\0"), PGR_PHASE_STARTUP, NULL, &f),
              PGR_FRAME_NEED_MORE);
    CHECK_INT(f.need, 10000);
    CHECK_INT(pgr_frame_next(BYTES("\0\0\x27\x11\0\3\0\0"), PGR_PHASE_STARTUP, NULL, &f),
              PGR_FRAME_BAD);
    CHECK_STR(f.reason, "invalid length of startup packet");
}

TEST(writer_fixed_and_sticky)
{
    uint8_t buf[8];
    pgr_writer_t w;
    pgr_writer_init_fixed(&w, buf, sizeof(buf));
    CHECK_INT(pgr_fe_write_empty(&w, 'S'), 0);
    CHECK_INT(w.len, 5);
    CHECK_MEM(buf, "S\0\0\0\x04", 5);
    CHECK_INT(pgr_fe_write_query(&w, "SELECT 1"), PGR_ELIMIT); /* does not fit */
    CHECK_INT(w.err, PGR_ELIMIT);
    pgr_writer_put_u8(&w, 1); /* puts after a failure change nothing */
    CHECK_INT(pgr_writer_finish(&w), PGR_ELIMIT);
    pgr_writer_reset(&w);
    CHECK_INT(w.len, 0);
    pgr_writer_begin(&w, 'S');
    pgr_writer_begin(&w, 'S'); /* nested: a programmer error, reported */
    CHECK_INT(pgr_writer_finish(&w), PGR_EINVAL);
    pgr_writer_reset(&w);
    CHECK_INT(pgr_writer_finish(&w), PGR_EINVAL); /* finish without begin */
    pgr_writer_reset(&w);
    pgr_writer_begin(&w, 'd');
    pgr_writer_put_nstr(&w, "a\0b", 3); /* embedded NUL */
    CHECK_INT(pgr_writer_finish(&w), PGR_EINVAL);
}

TEST(writer_grows)
{
    pgr_writer_t w;
    pgr_writer_init_grow(&w);
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 10; i++)
        CHECK_INT(pgr_fe_write_query(&w, big), 0);
    CHECK_INT(w.len, 10 * (5 + 5000));
    pgr_frame_t f;
    CHECK_INT(pgr_frame_next(w.buf + 5005 * 9, 5005, PGR_PHASE_FRONTEND, NULL, &f),
              PGR_FRAME_OK);
    CHECK_INT(f.body_len, 5000);
    pgr_writer_free(&w);
    CHECK(w.buf == NULL);
}

TEST(reader_sticky_and_end)
{
    pgr_reader_t r;
    const uint8_t b[] = {0, 1, 0, 0, 0, 2, 'h', 'i', 0, 9};
    pgr_reader_init(&r, b, sizeof(b));
    CHECK_INT(pgr_reader_i16(&r), 1);
    CHECK_INT(pgr_reader_i32(&r), 2);
    size_t n;
    CHECK_STR(pgr_reader_cstr(&r, &n), "hi");
    CHECK_INT(n, 2);
    CHECK_INT(pgr_reader_end(&r), PGR_ETRAILING);
    CHECK(!pgr_reader_done(&r));
    CHECK_INT(pgr_reader_u8(&r), 9);
    CHECK(pgr_reader_done(&r));
    CHECK_INT(pgr_reader_i32(&r), 0);
    CHECK_INT(r.err, PGR_ETRUNC);
    CHECK(pgr_reader_cstr(&r, NULL) == NULL); /* sticky: still the first error */
    CHECK_INT(pgr_reader_end(&r), PGR_ETRUNC);
    pgr_reader_init(&r, "abc", 3);
    CHECK(pgr_reader_cstr(&r, NULL) == NULL);
    CHECK_INT(r.err, PGR_ENOTERM);
    pgr_reader_init(&r, NULL, 0);
    CHECK(pgr_reader_done(&r));
    CHECK(pgr_reader_bytes(&r, 1) == NULL);
}

int
main(void)
{
    return RUN(typed_ok_and_need_more, type_checked_before_length, caps_and_limits,
               startup_forms, writer_fixed_and_sticky, writer_grows, reader_sticky_and_end);
}
