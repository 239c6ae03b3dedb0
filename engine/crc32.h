/* CRC-32 (IEEE 802.3, the zlib polynomial) for model file checksums. */
#ifndef EMOTIOND_CRC32_H
#define EMOTIOND_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t enn_crc32(const void *data, size_t size);

#endif
