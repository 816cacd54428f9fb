/* The TAP harness itself: a diagnostic whose text spans lines (libpq's messages do) stays a
 * diagnostic — every line starts with "# " — so meson never sees unknown TAP output. */
#include <unistd.h>

#include "harness.h"

/* What t_diag(fmt, arg) prints, captured from stdout. */
static const char *
captured(const char *fmt, const char *arg)
{
    static char buf[4096];
    FILE *tmp = tmpfile();
    int saved = dup(STDOUT_FILENO);
    fflush(stdout);
    dup2(fileno(tmp), STDOUT_FILENO);
    t_diag(fmt, arg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

TEST(diagnostics_span_lines)
{
    CHECK_STR(captured("last error: %s", "connection to server at \"127.0.0.1\", port 1 failed: "
                       "Connection refused\n\tIs the server running on that host and accepting "
                       "TCP/IP connections?\n"),
              "# last error: connection to server at \"127.0.0.1\", port 1 failed: Connection "
              "refused\n# \tIs the server running on that host and accepting TCP/IP "
              "connections?\n");
    CHECK_STR(captured("%s", "one line"), "# one line\n");
    CHECK_STR(captured("a\n\nb%s", ""), "# a\n# \n# b\n");
    CHECK_STR(captured("%s", ""), "");
}

int
main(void)
{
    return RUN(diagnostics_span_lines);
}
