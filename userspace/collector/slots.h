/*
 * slots - the table of label sets ("slots") the BPF side aggregates by.
 * Slot 0.. are handed out in order; the same labels give the same slot.
 * Thread-safe.
 */
#ifndef OBS_SLOTS_H
#define OBS_SLOTS_H
#include <stdint.h>

#define SLOT_LABEL_MAX 128

struct slot_labels {
	char service[SLOT_LABEL_MAX];
	char container_id[72];
	char pod_uid[40];
};

struct slots;

/* container_labels: whether container_id/pod_uid are label names. */
struct slots *slots_new(int container_labels);
void slots_free(struct slots *s);
/* Find or add; returns slot id or the unattributed slot when full. */
uint32_t slots_get(struct slots *s, const struct slot_labels *l);
/* Copy the labels of a slot; 0 if the slot exists, -1 if not. */
int slots_lookup(struct slots *s, uint32_t slot, struct slot_labels *out);
/* Slots in use. */
uint32_t slots_count(struct slots *s);
/* The slot's series expired: its number may be handed out again (the
 * caller has removed what the kernel side counted under it). */
void slots_release(struct slots *s, uint32_t slot);
int slots_container_labels(const struct slots *s);

#endif
