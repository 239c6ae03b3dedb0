/* The shared research datasets as the C tools read them (formats: ../shared/data/README.md):
 * 48x48 grayscale faces with labels in the product's class names. */
#ifndef EMOTIOND_DATASET_H
#define EMOTIOND_DATASET_H

#include <stddef.h>
#include <stdint.h>

struct dataset {
    int n;
    uint8_t (*pixels)[48 * 48];
    char (*label)[16];          /* product class name: anger, happiness, ... */
    char (*group)[16];          /* CK+: subject; FER2013: usage */
};

/* name: "ckplus" or "fer2013". 0, 1 when the data is absent (message in err), -1 on error. */
int dataset_load(const char *data_dir, const char *name, struct dataset *ds, char *err,
                 size_t errlen);
void dataset_free(struct dataset *ds);

#endif
