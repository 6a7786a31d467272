/* comm_impl.h - (private) how an implementation of the communicator (comm_mpi.c) is wrapped
 * into an at_comm by the dispatcher (comm.c). */
#ifndef ASTROTRAIN_DIST_COMM_IMPL_H
#define ASTROTRAIN_DIST_COMM_IMPL_H

#include "astrotrain/comm.h"

/* Takes ownership of impl (ops->free on failure too). */
at_status at_comm_wrap(const at_comm_ops *ops, void *impl, int rank, int size, at_comm **out, at_error *err);

#endif
