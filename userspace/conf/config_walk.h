/*
 * config_walk - the YAML walk's state and helpers, shared by config.c
 * (the keys, scalars) and config_values.c (the values that are lists or
 * mappings). Internal to userspace/conf.
 */
#ifndef OBS_CONFIG_WALK_H
#define OBS_CONFIG_WALK_H
#include <stddef.h>

#include <yaml.h>

#include "config.h"

struct walk {
	struct obs_config *c;
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	char seen[CONFIG_KEYS_MAX][48]; /* duplicate keys */
	size_t nseen;
	unsigned long key_line; /* of the key being read: an alias's node is earlier */
};

/* "FILE:LINE: key: message" into w->err; returns -1. */
int config_fail_at(struct walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A plain null (empty, ~, null). */
int config_is_null(const yaml_node_t *n);
/* A scalar's text; NULL and an error if not one. */
const char *config_scalar(struct walk *w, const yaml_node_t *n, const char *key,
			  const char *expect);

/* The values that are not one scalar: path names the key, expect what a
 * valid value looks like. 0, or -1 with the error in w. */
int config_set_headers(struct walk *w, const yaml_node_t *n, const char *path, const char *expect);
int config_set_routes(struct walk *w, const yaml_node_t *n, const char *path, const char *expect);
int config_set_probes(struct walk *w, const yaml_node_t *n, const char *path, const char *expect);
/* services.by_cgroup / services.by_exe: a mapping of glob -> service. */
int config_set_svc_rules(struct walk *w, const yaml_node_t *n, const char *path,
			 const char *expect);

#endif
