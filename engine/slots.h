/* Buffer sharing for a planned network (internal to engine/): which values may share a
 * buffer because their lifetimes do not overlap. Used by the float and int8 runners. */
#ifndef EMOTIOND_SLOTS_H
#define EMOTIOND_SLOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/* last_use[id] (id 0..n_nodes): the last node that reads value id, or n_nodes + 1 for
 * values that must survive the run (the input, the outputs, every value if keep_all). */
void enn_last_uses(const struct enn_model *model, bool keep_all, int *last_use);

/* Gives every value a slot: the smallest free one that fits need[id], else the largest
 * free one grown, else a new one. A value's slot frees after its last reader, never
 * during it, so no node writes over its own input. Returns the number of slots;
 * slot_size[s] is each one's size. */
int enn_share_slots(const int *last_use, int n_nodes, const size_t *need, int *slot,
                    size_t *slot_size);

#endif
