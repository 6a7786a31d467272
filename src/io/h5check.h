/* h5check.h - (private) checks on a dataset's storage layout before HDF5 reads it. A
 * damaged header can declare chunks of gigabytes, and HDF5 allocates a whole chunk to read
 * any part of it: refuse such files instead of letting the library allocate unbounded memory. */
#ifndef ASTROTRAIN_IO_H5CHECK_H
#define ASTROTRAIN_IO_H5CHECK_H

#include <hdf5.h>

/* Largest chunk we let HDF5 allocate to read (our own files use chunks of at most a few MB). */
#define AT_H5_MAX_CHUNK_BYTES ((hsize_t)256 << 20)

/* 1 when the dataset is contiguous/compact, or chunked with chunks of a plausible size. */
int at_h5_chunks_plausible(hid_t dataset);

#endif
