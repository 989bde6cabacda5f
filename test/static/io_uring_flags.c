/* The test of io_uring.c on a ring set up with every flag lmproc restores:
 * its own CQ size, SUBMIT_ALL, COOP_TASKRUN, TASKRUN_FLAG, 128-byte SQEs,
 * 32-byte CQEs and no SQ index array (the sizes of both regions change). */
#include <linux/io_uring.h>

#define SETUP_FLAGS                                                                  \
	(IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | \
	 IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | (1U << 16))
#define CQ_ENTRIES 1024

#include "io_uring.c"
