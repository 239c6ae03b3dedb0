/* The index of the largest of n scores (the first on a tie; 0 when n < 1): a face's label,
 * a photo's class in the tools. */
#ifndef EMOTIOND_ARGMAX_H
#define EMOTIOND_ARGMAX_H

int argmax(const float *p, int n);

#endif
