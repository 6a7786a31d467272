/* h5check.c - refuse datasets whose chunks HDF5 would mishandle. HDF5 1.10 trusts a file's
 * chunk index: it allocates what a chunk claims to hold, copies whole chunks into the
 * caller's buffer, and copies a chunk's worth out of a decompressed buffer even when the
 * data inflated to less. So before HDF5 reads a chunked dataset, every chunk is checked
 * here: its size bounded, its place inside the file, and, when compressed, inflated (zlib)
 * to exactly the chunk's size. */
#include "io/h5check.h"

#include <stdlib.h>
#include <zlib.h>

typedef struct pipeline {
    int deflate, shuffle, fletcher; /* their positions in the filter mask, or -1 */
    int other;                      /* any filter we cannot check */
} pipeline;

static pipeline filters_of(hid_t dcpl) {
    pipeline p = {-1, -1, -1, 0};
    int n = H5Pget_nfilters(dcpl);
    for (int i = 0; i < n; i++) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;
        char name[64];
        H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof name, name, NULL);
        if (f == H5Z_FILTER_DEFLATE) p.deflate = i;
        else if (f == H5Z_FILTER_SHUFFLE) p.shuffle = i;
        else if (f == H5Z_FILTER_FLETCHER32) p.fletcher = i;
        else p.other = 1;
    }
    return p;
}

/* Inflates src and reports whether it yields exactly want bytes (never writes past want). */
static int inflates_to(const unsigned char *src, size_t n, size_t want) {
    unsigned char *out = malloc(want + 1);
    if (!out) return 0;
    z_stream z = {0};
    int ok = inflateInit(&z) == Z_OK;
    if (ok) {
        z.next_in = (unsigned char *)src;
        z.avail_in = (uInt)n;
        z.next_out = out;
        z.avail_out = (uInt)(want + 1);
        int r = inflate(&z, Z_FINISH);
        ok = r == Z_STREAM_END && z.total_out == want;
        inflateEnd(&z);
    }
    free(out);
    return ok;
}

static int chunk_ok(hid_t dataset, const hsize_t *offset, unsigned mask, hsize_t size, hsize_t chunk_bytes,
                    const pipeline *p) {
    int deflated = p->deflate >= 0 && !(mask & (1u << p->deflate));
    int summed = p->fletcher >= 0 && !(mask & (1u << p->fletcher));
    hsize_t body = summed ? size - 4 : size;
    if (summed && size < 4) return 0;
    if (!deflated) return body == chunk_bytes;
    /* Deflate never grows data by more than a few bytes per 16 KB block. */
    if (body > chunk_bytes + chunk_bytes / 100 + 1024) return 0;
    unsigned char *raw = malloc(size ? size : 1);
    if (!raw) return 0;
    uint32_t fmask = 0;
    int ok = H5Dread_chunk(dataset, H5P_DEFAULT, offset, &fmask, raw) >= 0 &&
             inflates_to(raw, (size_t)body, (size_t)chunk_bytes);
    free(raw);
    return ok;
}

static int stored_chunks_plausible(hid_t dataset, hid_t dcpl, hsize_t chunk_bytes, hsize_t fsize) {
    pipeline p = filters_of(dcpl);
    if (p.other) return 0; /* szip, lz4, ...: not written by us, not in Galaxy10 */
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
        else ok = chunk_ok(dataset, offset, mask, size, chunk_bytes, &p);
    }
    if (space >= 0) H5Sclose(space);
    return ok;
}

int at_h5_chunks_plausible(hid_t dataset) {
    hid_t dcpl = H5Dget_create_plist(dataset);
    if (dcpl < 0) return 0;
    int ok = 1, chunked = 0;
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
    /* Stored data can never exceed the file that holds it. */
    if (ok) {
        hid_t file = H5Iget_file_id(dataset);
        hsize_t fsize = 0;
        if (file < 0 || H5Fget_filesize(file, &fsize) < 0 || H5Dget_storage_size(dataset) > fsize) ok = 0;
        if (ok && chunked) ok = stored_chunks_plausible(dataset, dcpl, chunk_bytes, fsize);
        if (file >= 0) H5Fclose(file);
    }
    H5Pclose(dcpl);
    return ok;
}
