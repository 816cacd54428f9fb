/* The typed walker of the config loader: a table of fields (key, type, where the value goes,
 * range) checks one YAML mapping and stores each value; shared helpers for messages. Internal
 * to the config loader (config_int.h names its files). */
#ifndef PGR_CORE_CONFIG_WALK_H
#define PGR_CORE_CONFIG_WALK_H

#include "core/config_yaml.h"

#define PGR_DAY_MS INT64_C(86400000)

/* A string value's bound in bytes when its field gives none (max 0): PATH_MAX - 1. */
#define PGR_CONFIG_STR_MAX 4095

typedef enum {
    F_STR,      /* char *: a non-empty string */
    F_STR_NULL, /* char *: a non-empty string, or null (NULL) */
    F_ENUM,     /* int: the index of the value in names[] */
    F_ENUM_STR, /* char *: one of names[], kept as text */
    F_INT,      /* int in [min, max] */
    F_COUNT,    /* size_t in [min, max] */
    F_DUR,      /* int64_t milliseconds in [min, max], written with a unit */
    F_SIZE,     /* uint64_t bytes in [min, max], bare or with a unit */
    F_BOOL,     /* bool */
    F_FRAC,     /* double in [0, 1] */
    F_STRLIST,  /* char ** at off, size_t count at off_n: a sequence of non-empty strings */
    F_HOSTS,    /* as F_STRLIST, but a single string is a list of one; must not be empty */
    F_HOSTPORT, /* char *: "host:port", or null */
    F_MAP,      /* a nested mapping described by sub (offsets relative to the same base) */
    F_CUSTOM,   /* handled by fn */
} pgr_config_ftype_t;

typedef struct pgr_config_field pgr_config_field_t;
typedef struct pgr_config_walker pgr_config_walker_t;
struct pgr_config_field {
    const char *key;
    pgr_config_ftype_t type;
    size_t off, off_n;
    int64_t min, max;         /* numbers: the range; strings (F_STR, F_STR_NULL, F_STRLIST,
                                 F_HOSTS, F_HOSTPORT): max is the bound in bytes of the string
                                 or of each item (0: PGR_CONFIG_STR_MAX) */
    bool secret;              /* a password or hash: its value is never shown in a message */
    const char *const *names; /* NULL-terminated */
    const pgr_config_field_t *sub;       /* F_MAP: terminated by a NULL key */
    void (*fn)(pgr_config_walker_t *w, const pgr_ynode_t *v, const char *path, void *base);
    bool required;
};

struct pgr_config_walker {
    pgr_config_ctx_t *ctx;
    pgr_config_t *cfg;
};

/* A set of strings, each with the index it was first seen at: duplicate checks in linear
 * time (open addressing, grown at half load). Keys are not copied: they must outlive the set. */
typedef struct pgr_config_strset {
    const char **keys;
    size_t *at;
    size_t cap, n;
} pgr_config_strset_t;

/* Add key first seen at index `at`. Returns true when key was there already, with *first (may
 * be NULL) its first index; false when it is new (or memory ran out: ctx->nomem latches). */
bool pgr_config_strset_add(pgr_config_walker_t *w, pgr_config_strset_t *s, const char *key,
                           size_t at, size_t *first);
bool pgr_config_strset_has(const pgr_config_strset_t *s, const char *key);
void pgr_config_strset_free(pgr_config_strset_t *s);

/* Is s (the value at v for path) longer than max bytes (0: PGR_CONFIG_STR_MAX)? If so,
 * record "PATH: expected <what> of at most N bytes, got M bytes" (with a preview of the value
 * unless secret) and return true. */
bool pgr_config_too_long(pgr_config_walker_t *w, const pgr_ynode_t *v, const char *path,
                         const char *what, int64_t max, bool secret);

/* Check map against fields (terminated by a NULL key) and store into base + field.off:
 * unknown and duplicate keys, missing required keys, and each known value by its type. path is
 * the mapping's key path ("" for the top level). Problems go to w->ctx; nothing is returned. */
void pgr_config_walk_map(pgr_config_walker_t *w, const pgr_ynode_t *map, const char *path,
                         const pgr_config_field_t *fields, void *base);
/* Record "PATH: expected <expected>, got <v as shown by pgr_config_got>" at v. */
void pgr_config_bad(pgr_config_walker_t *w, const pgr_ynode_t *v, const char *path,
                    const char *expected);
/* strdup that latches ctx->nomem on failure. */
char *pgr_config_strdup(pgr_config_walker_t *w, const char *s);
/* The value of key in mapping map, or NULL (also when map is NULL or not a mapping). */
const pgr_ynode_t *pgr_config_map_get(const pgr_ynode_t *map, const char *key);
/* All of s[0..len) as a decimal integer <= max; false on anything else. */
bool pgr_config_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out);
/* ms as the shortest exact duration text: "30s", "1m", "1500ms". */
void pgr_config_fmt_dur(char *buf, size_t len, int64_t ms);
/* dst = parent + "." + key (or key alone at the top level). */
void pgr_config_set_path(char *dst, size_t len, const char *parent, const char *key);
/* snprintf for paths and message parts, where cutting a very long text short is fine. */
void pgr_config_bufprintf(char *buf, size_t len, const char *fmt, ...) PGR_PRINTF(3, 4);

#endif
