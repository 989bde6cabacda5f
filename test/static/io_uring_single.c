/* The test of io_uring.c on a ring only the main thread submits to
 * (IORING_SETUP_SINGLE_ISSUER) whose completions' task work waits for it
 * (IORING_SETUP_DEFER_TASKRUN), as liburing recommends. */
#include <linux/io_uring.h>

#define SETUP_FLAGS (IORING_SETUP_SINGLE_ISSUER | (1U << 13))
#define CQ_ENTRIES 0

#include "io_uring.c"
