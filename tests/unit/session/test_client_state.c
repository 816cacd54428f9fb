/* session/client: the state table — the moves a session may make, and a refused one leaves the
 * state as it was. */
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

int
main(void)
{
    return RUN(legal_moves, illegal_moves, set_state_refuses_and_keeps_the_state);
}
