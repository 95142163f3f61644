/* Mappings of files that may shrink under us. A page of a file mapping that
 * lies past the file's end (the file was truncated after it was mapped)
 * raises SIGBUS when touched, in any thread; pvhboot reads its input files
 * through such mappings (parsing, hashing, extraction, --load copy) and maps
 * them into guest RAM (--load map), where the VMM may touch them at run time.
 *
 * Every such range is registered here, and each registration makes sure a
 * process-wide SIGBUS handler (async-signal-safe) is in place: a fault inside a
 * registered range gets a zero-filled anonymous page put in place of the
 * missing one (mmap MAP_FIXED, the range's protection, never PROT_EXEC: the
 * sandbox allows it), the range is marked changed, and the access that
 * faulted goes on reading zeros. Whoever read the range then asks
 * pvh_mapguard_changed and fails with a one-line error. A SIGBUS anywhere
 * else gets the action that was in place before the handler (the default:
 * the process dies by SIGBUS; under ASan, ASan's report). The handler keeps
 * no lock and calls only mmap (as a raw system call), sigaction and raise.
 *
 * Registration and removal are for one thread at a time (setup, teardown);
 * the handler may run in any thread at any time. */
#ifndef PVHBOOT_MAPGUARD_H
#define PVHBOOT_MAPGUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "pvhboot/error.h"

#define PVH_MAPGUARD_MAX 256 /* ranges registered at once */

/* Registers [start, start + len), mapped from the file named name (copied,
 * for messages), whose pages have protection prot (PROT_READ, or with
 * PROT_WRITE). Returns 0, or -1 with err set when the table is full. */
int pvh_mapguard_add(const void *start, size_t len, int prot, const char *name, struct pvh_error *err);

/* Forgets every registered range that overlaps [start, start + len): call it
 * before unmapping or replacing the memory. */
void pvh_mapguard_remove(const void *start, size_t len);

/* The name of the first registered range overlapping [start, start + len)
 * that lost a page to a shrunk file, or NULL. The string lives until the
 * range is removed. */
const char *pvh_mapguard_changed(const void *start, size_t len);

/* Reads one byte of every page of every registered range inside
 * [start, start + len): a page lost to a file that shrank faults, and the
 * handler marks its range changed. Then as pvh_mapguard_changed. Every page,
 * not just the last: while a truncation is still unmapping a range, its low
 * pages may be gone (and have failed KVM_RUN) with its last still mapped. */
const char *pvh_mapguard_probe(const void *start, size_t len);

#endif
