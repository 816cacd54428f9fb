/* workers: fork N pgrouter processes and stand between them and the signals sent to the
 * group (see workers.h). The parent runs no loop and holds no socket: it only waits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "core/log.h"
#include "ops/workers.h"

typedef struct worker {
    pid_t pid; /* 0: exited */
    int instance;
} worker_t;

/* Reap every exited worker; returns how many are still running. */
static int
reap(worker_t *w, int n, bool stopping, int *rc)
{
    int alive = 0, status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < n; i++) {
            if (w[i].pid != pid)
                continue;
            w[i].pid = 0;
            bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (!clean)
                *rc = 1;
            if (WIFSIGNALED(status))
                pgr_warn("workers", "instance %d (pid %d) ended by signal %d%s", w[i].instance,
                         (int)pid, WTERMSIG(status), stopping ? "" : "; the others go on");
            else if (!clean || !stopping)
                pgr_warn("workers", "instance %d (pid %d) exited with status %d%s",
                         w[i].instance, (int)pid, WEXITSTATUS(status),
                         stopping ? "" : "; the others go on");
        }
    }
    for (int i = 0; i < n; i++)
        alive += w[i].pid != 0;
    return alive;
}

static void
tell_all(worker_t *w, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (w[i].pid > 0 && kill(w[i].pid, sig) != 0 && errno != ESRCH)
            pgr_warn("workers", "cannot signal instance %d (pid %d): %s", w[i].instance,
                     (int)w[i].pid, strerror(errno));
}

int
pgr_workers_run(const char *path, int base, int n, pgr_worker_fn fn)
{
    worker_t *w = calloc((size_t)n, sizeof(*w));
    sigset_t set, old;
    bool stopping = false;
    pid_t self = getpid();
    int rc = 0;

    if (w == NULL) {
        fprintf(stderr, "pgrouter: out of memory\n");
        return 1;
    }
    /* Blocked before the first fork, so no signal falls between fork and sigwaitinfo; each
     * worker restores the old mask before its loop installs its own handlers. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* A parent killed outright takes its workers with it (gracefully). */
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != self)
                _exit(1);
            sigprocmask(SIG_SETMASK, &old, NULL);
            free(w);
            _exit(fn(path, base + i));
        }
        if (pid < 0) {
            pgr_error("workers", "cannot start instance %d: %s", base + i, strerror(errno));
            rc = 1;
            stopping = true;
            tell_all(w, i, SIGTERM);
            break;
        }
        w[i] = (worker_t){ .pid = pid, .instance = base + i };
        pgr_info("workers", "instance %d: pid %d", base + i, (int)pid);
    }
    while (reap(w, n, stopping, &rc) > 0) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0 || sig == SIGCHLD)
            continue;
        if (sig != SIGHUP)
            stopping = true;
        tell_all(w, n, sig);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(w);
    return rc;
}
