/* session/client: the state table — the moves a session may make, and a refused one leaves the
 * state as it was; a CancelRequest goes to the state's own handler. */
#include "core/runtime.h"
#include "session/client.h"
#include "../harness.h"

#define S(x) PGR_CLIENT_##x

TEST(legal_moves)
{
    static const pgr_client_state_t moves[][2] = {
        {S(STARTUP), S(AUTH)},   {S(STARTUP), S(CLOSING)}, {S(AUTH), S(LOGIN)},
        {S(AUTH), S(IDLE)},      {S(LOGIN), S(IDLE)},      {S(LOGIN), S(LINKED)},
        {S(IDLE), S(WAITING)},   {S(IDLE), S(BROADCAST)},  {S(WAITING), S(LINKED)},
        {S(WAITING), S(IDLE)},   {S(LINKED), S(IDLE)},     {S(BROADCAST), S(IDLE)},
        {S(LINKED), S(CLOSING)}, {S(IDLE), S(IDLE)},
    };
    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
        CHECK(pgr_client_transition_allowed(moves[i][0], moves[i][1]));
}

TEST(illegal_moves)
{
    static const pgr_client_state_t moves[][2] = {
        {S(STARTUP), S(LINKED)}, {S(AUTH), S(WAITING)},   {S(IDLE), S(LINKED)},
        {S(IDLE), S(AUTH)},      {S(LINKED), S(WAITING)}, {S(LINKED), S(BROADCAST)},
        {S(BROADCAST), S(LINKED)}, {S(CLOSING), S(IDLE)}, {S(CLOSING), S(STARTUP)},
        {S(WAITING), S(AUTH)},
    };
    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
        CHECK(!pgr_client_transition_allowed(moves[i][0], moves[i][1]));
    CHECK(!pgr_client_transition_allowed(S(IDLE), (pgr_client_state_t)99));
}

TEST(set_state_refuses_and_keeps_the_state)
{
    pgr_client_t *cl = calloc(1, sizeof(*cl));
    CHECK_INT(cl->state, S(STARTUP));
    CHECK(pgr_client_set_state(cl, S(AUTH)));
    CHECK_INT(cl->state, S(AUTH));
    CHECK(!pgr_client_set_state(cl, S(LINKED)));
    CHECK_INT(cl->state, S(AUTH));
    CHECK(pgr_client_set_state(cl, S(CLOSING)));
    CHECK(!pgr_client_set_state(cl, S(IDLE)));
    CHECK_INT(cl->state, S(CLOSING));
    free(cl);
}

/* With nothing running (no server linked, no broadcast, no wait), a cancel is counted as
 * ignored in every state that takes one, and a closing session takes none. */
TEST(cancel_goes_to_the_state_handler)
{
    static const pgr_client_state_t takes[] = {S(STARTUP), S(AUTH), S(LOGIN), S(IDLE),
                                               S(LINKED)};
    pgr_runtime_t rt = {0};
    pgr_client_t *cl = calloc(1, sizeof(*cl));

    cl->rt = &rt;
    for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++) {
        uint64_t before = rt.stats.cancels_ignored;
        cl->state = takes[i];
        pgr_client_cancel(cl);
        CHECK(rt.stats.cancels_ignored == before + 1);
        CHECK(rt.stats.cancels_forwarded == 0);
    }
    cl->state = S(CLOSING);
    pgr_client_cancel(cl);
    pgr_client_input(cl); /* no handlers: nothing happens */
    CHECK(rt.stats.cancels_ignored == 5);
    free(cl);
}

int
main(void)
{
    return RUN(legal_moves, illegal_moves, set_state_refuses_and_keeps_the_state,
               cancel_goes_to_the_state_handler);
}
