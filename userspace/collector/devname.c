#include "devname.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "procparse.h"

#include <linux/types.h>
#include "obs.h"

#define DEVNAME_CACHE 64

static struct {
	uint32_t dev;
	char name[32];
} cache[DEVNAME_CACHE];
static size_t ncache;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int from_sysfs(unsigned maj, unsigned min, char *out, size_t outlen)
{
	char path[64], buf[1024];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", maj, min);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* uevent is KEY=VALUE lines; reuse the environ parser on '\n' -> '\0'. */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = '\0';
	return procparse_environ_get(buf, n, "DEVNAME", out, outlen);
}

void devname_lookup(uint32_t dev, char *out, size_t outlen)
{
	unsigned maj = dev >> 20, min = dev & 0xfffff;
	char name[32];

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ncache; i++)
		if (cache[i].dev == dev) {
			snprintf(out, outlen, "%s", cache[i].name);
			pthread_mutex_unlock(&lock);
			return;
		}
	if (from_sysfs(maj, min, name, sizeof(name)))
		snprintf(name, sizeof(name), "%u:%u", maj, min);
	else if (ncache < DEVNAME_CACHE) {
		cache[ncache].dev = dev;
		snprintf(cache[ncache].name, sizeof(cache[ncache].name), "%s", name);
		ncache++;
	}
	pthread_mutex_unlock(&lock);
	snprintf(out, outlen, "%s", name);
}

const char *devname_disk_op(unsigned op)
{
	static const char *const names[OBS_DISK_OP_COUNT] = {"read", "write", "flush", "discard",
							     "other"};

	return names[op < OBS_DISK_OP_COUNT ? op : OBS_DISK_OTHER];
}
