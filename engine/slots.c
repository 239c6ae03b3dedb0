#include "slots.h"

void enn_last_uses(const struct enn_model *m, bool keep_all, int *last_use)
{
    int end = m->n_nodes + 1;
    for (int id = 0; id <= m->n_nodes; id++)
        last_use[id] = keep_all || id == 0 ? end : id;
    for (int k = 1; k <= m->n_nodes; k++)
        for (int i = 0; i < m->nodes[k - 1].n_inputs; i++) {
            int v = m->nodes[k - 1].inputs[i];
            if (last_use[v] < k)
                last_use[v] = k;
        }
    for (int o = 0; o < m->n_outputs; o++)
        last_use[m->outputs[o].value] = end;
}

int enn_share_slots(const int *last_use, int n, const size_t *need, int *slot,
                    size_t *slot_size)
{
    int n_slots = 0;
    bool busy[ENN_MAX_NODES + 1] = {false};
    for (int id = 0; id <= n; id++) {
        for (int v = 1; v < id; v++)   /* values whose last reader ran before id */
            if (last_use[v] == id - 1)
                busy[slot[v]] = false;
        int best = -1, largest = -1;
        for (int s = 0; s < n_slots; s++) {
            if (busy[s])
                continue;
            if (slot_size[s] >= need[id] && (best < 0 || slot_size[s] < slot_size[best]))
                best = s;
            if (largest < 0 || slot_size[s] > slot_size[largest])
                largest = s;
        }
        if (best < 0 && largest >= 0) {
            best = largest;
            slot_size[best] = need[id];
        }
        if (best < 0) {
            best = n_slots++;
            slot_size[best] = need[id];
        }
        busy[best] = true;
        slot[id] = best;
    }
    return n_slots;
}
