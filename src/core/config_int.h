/* Inside the config loader, shared by its files and by no other module: config.c (the API),
 * config_schema.c (the table of keys and the list walkers) and config_check.c (the rules
 * across keys, auth.hba_file). config_walk.h is the typed walker they all use. */
#ifndef PGR_CORE_CONFIG_INT_H
#define PGR_CORE_CONFIG_INT_H

#include "core/config_walk.h"

/* A node's pool mode as parsed when its pool block does not set one (the global mode holds). */
#define PGR_POOL_MODE_UNSET ((pgr_pool_mode_t)-1)

/* config_schema.c: walk the whole document root into w->cfg; problems go to w->ctx. */
void pgr_config_walk_root(pgr_config_walker_t *w, const pgr_ynode_t *root);
/* The name auth.method is written with in the file. */
const char *pgr_config_auth_method_name(pgr_auth_method_t method);

/* config_check.c, after the walk (also when it found problems: a bad value keeps its
 * default). The rules across keys, each blamed on the key to change. */
void pgr_config_cross_check(pgr_config_walker_t *w, const pgr_ynode_t *root);
/* auth.hba_file, relative to the directory of the config file (name), is read and parsed into
 * cfg->auth.hba; cfg->auth.hba_file becomes the path used. Its own errors name the hba file. */
void pgr_config_load_hba(pgr_config_walker_t *w, const pgr_ynode_t *root, const char *name);

/* config.c: free a password or hash, wiping it first. NULL is fine. */
void pgr_config_free_secret(char *s);

#endif
