/*
 * registry - the protocols obs follows. Adding one is one line here
 * (docs/design.md, "Adding a protocol"); order is detection order, the
 * most specific first: HTTP/2's preface is also a plausible HTTP/1 line.
 */
#include "registry.h"

#include "h2_proto.h"
#include "http1_proto.h"
#include "mysql_proto.h"
#include "pg_proto.h"
#include "redis_proto.h"

const struct proto_handler *const proto_handlers[] = {
    &h2_handler, &http1_handler, &redis_handler, &pg_handler, &mysql_handler, NULL,
};

/* Kernel-side capture copies a bounded prefix of each read and write
 * (bpf/capture.bpf.c: one 512-byte chunk, 64 KiB once HTTP/2's preface,
 * PostgreSQL's startup message, a Redis command or a MySQL server's
 * greeting is seen; beyond that, the wire parsers count what lies inside
 * a message, a bulk string or a packet). */
const struct proto_handler *const proto_kernel_handlers[] = {
    &h2_handler, &http1_handler, &redis_handler, &pg_handler, &mysql_handler, NULL,
};

const struct proto_handler *proto_by_id(unsigned id)
{
	for (size_t i = 0; proto_handlers[i]; i++)
		if (proto_handlers[i]->id == id)
			return proto_handlers[i];
	return NULL;
}

const struct proto_family *proto_family_by_id(unsigned id)
{
	for (size_t i = 0; proto_handlers[i]; i++)
		for (size_t j = 0; proto_handlers[i]->families && proto_handlers[i]->families[j];
		     j++)
			if (proto_handlers[i]->families[j]->id == id)
				return proto_handlers[i]->families[j];
	return NULL;
}
