#include "execenv.h"

#include <stdlib.h>
#include <string.h>

static int env_has(char *const envp[], const char *name, size_t nlen)
{
	for (size_t i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], name, nlen) && envp[i][nlen] == '=')
			return 1;
	return 0;
}

size_t execenv_missing(char *const envp[], char *add[EXECENV_KEEP])
{
	static const char *const keep[EXECENV_KEEP] = {
	    "LD_PRELOAD",      "OBS_SOCKET",	      "OBS_SOCKET_KEY",		"OBS_SAMPLE",
	    "OBS_SHIM_ROUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"};
	const char *inherit = getenv("OBS_PRELOAD_INHERIT");
	size_t nadd = 0;

	if (inherit && !strcmp(inherit, "0"))
		return 0;
	for (size_t i = 0; i < EXECENV_KEEP; i++) {
		size_t nl = strlen(keep[i]);
		char *cur = getenv(keep[i]);

		if (cur && !env_has(envp, keep[i], nl))
			add[nadd++] = cur - nl - 1; /* "NAME=value" as it sits in environ */
	}
	return nadd;
}
