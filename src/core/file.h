/* file.h - reading a whole file into a bounded buffer (configuration, fixtures, request bodies
 * for the load generator). Any thread; blocking I/O: never call it on a loop serving requests. */
#ifndef LX_FILE_H
#define LX_FILE_H

#include <stddef.h>

/* The file at path as a malloc'd, NUL-terminated string of *len bytes (an empty file gives
 * ""). NULL when it cannot be opened or read, or is larger than max bytes. */
char *lx_file_read(const char *path, size_t max, size_t *len);

#endif /* LX_FILE_H */
