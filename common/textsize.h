/* The sizes of the text buffers that carry errors and paths, named once. A message that
 * does not fit is cut (snprintf), never overflowed; these sizes only make cuts rare. */
#ifndef EMOTIOND_TEXTSIZE_H
#define EMOTIOND_TEXTSIZE_H

#define TEXT_WHY 300   /* one reason: why a value, a frame or a device failed */
#define TEXT_PATH 600  /* a file under a system root (sysfs, thermal, power rails) */
#define TEXT_ERR 700   /* an error that wraps a reason with its file, line, key or model */

#endif
