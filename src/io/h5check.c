/* h5check.c - refuse datasets whose declared chunks or stored size are implausible. */
#include "io/h5check.h"

/* Unfiltered chunks are read straight into the caller's buffer, so each stored chunk must
 * have exactly the chunk's size; filtered ones must at least fit the file. */
static int stored_chunks_plausible(hid_t dataset, hsize_t chunk_bytes, int filtered, hsize_t fsize) {
    hsize_t n = 0;
    /* HDF5 1.10 wants the dataset's own dataspace here (H5S_ALL is refused). */
    hid_t space = H5Dget_space(dataset);
    int ok = space >= 0 && H5Dget_num_chunks(dataset, space, &n) >= 0;
    if (n > ((hsize_t)1 << 16)) ok = 0; /* more chunks than any file of ours or Galaxy10 has */
    hsize_t offset[H5S_MAX_RANK];
    for (hsize_t i = 0; ok && i < n; i++) {
        unsigned mask = 0;
        haddr_t addr = 0;
        hsize_t size = 0;
        if (H5Dget_chunk_info(dataset, space, i, offset, &mask, &addr, &size) < 0) ok = 0;
        else if (size > fsize || addr == HADDR_UNDEF || addr > fsize || size > fsize - addr) ok = 0;
        else if (!filtered && size != chunk_bytes) ok = 0;
    }
    if (space >= 0) H5Sclose(space);
    return ok;
}

int at_h5_chunks_plausible(hid_t dataset) {
    hid_t dcpl = H5Dget_create_plist(dataset);
    if (dcpl < 0) return 0;
    int ok = 1, chunked = 0, filtered = H5Pget_nfilters(dcpl) > 0;
    hsize_t chunk_bytes = 0;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        chunked = 1;
        hsize_t dims[H5S_MAX_RANK];
        int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims);
        hid_t type = H5Dget_type(dataset);
        size_t elem = type >= 0 ? H5Tget_size(type) : 0;
        if (type >= 0) H5Tclose(type);
        if (rank <= 0 || elem == 0) {
            ok = 0;
        } else {
            hsize_t bytes = elem;
            for (int i = 0; i < rank && ok; i++) {
                if (dims[i] == 0 || bytes > AT_H5_MAX_CHUNK_BYTES / dims[i]) ok = 0;
                else bytes *= dims[i];
            }
            chunk_bytes = bytes;
        }
    }
    H5Pclose(dcpl);
    /* A damaged chunk index can claim a chunk bigger than the file, and HDF5 allocates what
     * the index claims: stored data can never exceed the file that holds it. */
    if (ok) {
        hid_t file = H5Iget_file_id(dataset);
        hsize_t fsize = 0;
        if (file < 0 || H5Fget_filesize(file, &fsize) < 0 || H5Dget_storage_size(dataset) > fsize) ok = 0;
        if (ok && chunked) ok = stored_chunks_plausible(dataset, chunk_bytes, filtered, fsize);
        if (file >= 0) H5Fclose(file);
    }
    return ok;
}
