/* Writes the fuzz seed corpus from the golden conversations:
 *   gen_corpus OUTDIR   → OUTDIR/{fe,be,startup,roundtrip}/<conversation>-<n>
 * fe / be: every typed frontend / backend message of a conversation, concatenated; startup: each
 * startup form followed by the conversation's frontend stream; roundtrip: one seed per message,
 * prefixed by the driver's selector byte. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "convo.h"

static int
write_file(const char *dir, const char *sub, const char *name, int n, const uint8_t *a,
           size_t alen, const uint8_t *b, size_t blen)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return -1;
    snprintf(path, sizeof(path), "%s/%s/%s-%02d", dir, sub, name, n);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    int ok = fwrite(a, 1, alen, f) == alen && (blen == 0 || fwrite(b, 1, blen, f) == blen);
    return fclose(f) == 0 && ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    int rc = 0;
    for (int k = 0; convo_names[k]; k++) {
        convo_t c;
        if (convo_build(&c, convo_names[k]) != 0) {
            fprintf(stderr, "%s: build failed\n", convo_names[k]);
            return 1;
        }
        pgr_writer_t fe, be;
        pgr_writer_init_grow(&fe);
        pgr_writer_init_grow(&be);
        int p_kind = 0; /* which 'p' body follows, from the last auth request */
        for (int i = 0; i < c.n; i++) {
            const convo_msg_t *m = &c.msgs[i];
            const uint8_t *p = c.w.buf + m->off;
            if (m->dir == 'B' && p[0] == 'R' && m->len >= 9) {
                uint8_t code = p[8];
                p_kind = code == 10 ? 1 : code == 11 ? 2 : 0;
            }
            if (!m->startup)
                pgr_writer_put_bytes(m->dir == 'F' ? &fe : &be, p, m->len);
            uint8_t sel = m->startup ? 0 : m->dir == 'F' ? (uint8_t)(1 + 3 * p_kind) : 2;
            rc |= write_file(dir, "roundtrip", c.name, i, &sel, 1, p, m->len);
        }
        int s = 0;
        for (int i = 0; i < c.n; i++) {
            const convo_msg_t *m = &c.msgs[i];
            if (m->startup)
                rc |= write_file(dir, "startup", c.name, s++, c.w.buf + m->off, m->len, fe.buf,
                                 fe.len);
        }
        rc |= write_file(dir, "fe", c.name, 0, fe.buf, fe.len, NULL, 0);
        rc |= write_file(dir, "be", c.name, 0, be.buf, be.len, NULL, 0);
        pgr_writer_free(&fe);
        pgr_writer_free(&be);
        convo_free(&c);
    }
    if (rc)
        fprintf(stderr, "gen_corpus: writing under %s failed\n", dir);
    return rc ? 1 : 0;
}
