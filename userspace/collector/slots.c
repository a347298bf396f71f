#include "slots.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>
#include "obs.h"

struct slots {
	pthread_mutex_t lock;
	int container_labels;
	uint32_t n, nfree;
	uint8_t freed[OBS_MAX_SLOTS]; /* released (their series expired): reusable */
	struct slot_labels l[OBS_MAX_SLOTS];
};

struct slots *slots_new(int container_labels)
{
	struct slots *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->container_labels = container_labels;
	/* The last slot is reserved for work no process could be found for. */
	strcpy(s->l[OBS_SLOT_UNATTRIBUTED].service, "unattributed");
	return s;
}

void slots_free(struct slots *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

uint32_t slots_get(struct slots *s, const struct slot_labels *l)
{
	uint32_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n; i++)
		if (!s->freed[i] && !strcmp(s->l[i].service, l->service) &&
		    !strcmp(s->l[i].container_id, l->container_id) &&
		    !strcmp(s->l[i].pod_uid, l->pod_uid))
			goto out;
	if (s->nfree) { /* an expired one's number, before a new one */
		for (i = 0; i < s->n && !s->freed[i]; i++)
			;
		s->freed[i] = 0;
		s->nfree--;
		s->l[i] = *l;
		goto out;
	}
	if (s->n >= OBS_SLOT_UNATTRIBUTED) {
		i = OBS_SLOT_UNATTRIBUTED;
		goto out;
	}
	i = s->n++;
	s->l[i] = *l;
out:
	pthread_mutex_unlock(&s->lock);
	return i;
}

int slots_lookup(struct slots *s, uint32_t slot, struct slot_labels *out)
{
	int rc = -1;

	pthread_mutex_lock(&s->lock);
	if ((slot < s->n && !s->freed[slot]) || slot == OBS_SLOT_UNATTRIBUTED) {
		*out = s->l[slot];
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

uint32_t slots_count(struct slots *s)
{
	uint32_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n - s->nfree;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void slots_release(struct slots *s, uint32_t slot)
{
	pthread_mutex_lock(&s->lock);
	if (slot < s->n && !s->freed[slot]) {
		memset(&s->l[slot], 0, sizeof(s->l[slot]));
		s->freed[slot] = 1;
		s->nfree++;
	}
	pthread_mutex_unlock(&s->lock);
}

int slots_container_labels(const struct slots *s)
{
	return s->container_labels;
}
