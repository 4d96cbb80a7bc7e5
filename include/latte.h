/* latte.h: the C ABI of liblatte.so (read and write .latte files). See docs/C-API.md.
 *
 * Conventions: functions returning int return a latte_status (0 = LATTE_OK); on any other
 * value latte_last_error() gives the one-line message the CLI prints after "error: ", kept
 * per thread (thread-local), so concurrent calls never see each other's messages. Strings
 * and shapes handed out stay valid until latte_close. Reads of one open file may run on any
 * number of threads at once; latte_close must not race with them.
 */
#ifndef LATTE_H
#define LATTE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; compare with latte_abi_version() at load time. */
#define LATTE_ABI_VERSION 1

typedef enum latte_status {
    LATTE_OK = 0,
    LATTE_E_ARGUMENT = 1,  /* null pointer, index out of range, buffer of the wrong size */
    LATTE_E_NOT_FOUND = 2, /* no tensor of that name, no such group */
    LATTE_E_IO = 3,        /* the file cannot be opened or mapped */
    LATTE_E_FORMAT = 4,    /* not a valid .latte file, or damaged data (checksum, chunk) */
    LATTE_E_WRITE = 5      /* latte_write refused the tensors or could not write the file */
} latte_status;

/* An open .latte file (opaque). */
typedef struct latte_file latte_file;

uint32_t latte_abi_version(void);
const char *latte_version(void);
/* The calling thread's last error message ("" when none). Valid until this thread's next failing call. */
const char *latte_last_error(void);

int latte_open(const char *path, latte_file **out);
/* As latte_open, with the base checkpoint (any checkpoint latte reads: safetensors, a sharded
   folder, a PyTorch file) the file's base references resolve against; base_path NULL: none.
   Reading a tensor stored in the base without one fails naming the base needed. (ABI 1: added.) */
int latte_open_with_base(const char *path, const char *base_path, latte_file **out);
void latte_close(latte_file *f);

/* -1 for a null handle. */
int64_t latte_tensor_count(const latte_file *f);
/* Tensor `index` (file order); any out pointer may be NULL. dtype: the safetensors name
   ("BF16", "F8_E4M3", ...). group, layer: -1 when none; role: NULL when none. */
int latte_tensor_info(const latte_file *f, int64_t index, const char **name, const char **dtype,
                      int32_t *ndim, const int64_t **shape, int64_t *nbytes, int32_t *section,
                      int32_t *group, int32_t *layer, const char **role);
int latte_find_tensor(const latte_file *f, const char *name, int64_t *index);

int64_t latte_metadata_count(const latte_file *f);
int latte_metadata_entry(const latte_file *f, int64_t index, const char **key, const char **value);
/* The provenance document as JSON text; the plan's groups (index, timesteps, layers) are at plan.groups. */
const char *latte_provenance_json(const latte_file *f);

/* Expert groups present, ascending: the index-th one's number and its tensor count. */
int64_t latte_group_count(const latte_file *f);
int latte_group_info(const latte_file *f, int64_t index, int32_t *group, int64_t *tensor_count);
int latte_group_tensors(const latte_file *f, int32_t group, int64_t *indices, int64_t capacity);

/* Decode tensors straight into caller buffers (each exactly the tensor's nbytes), every
   checksum verified before LATTE_OK; threads <= 0: every core. On failure the buffers hold
   unspecified bytes. */
int latte_read_tensor(const latte_file *f, int64_t index, void *buffer, int64_t size, int32_t threads);
int latte_read_tensors(const latte_file *f, int64_t count, const int64_t *indices, void *const *buffers,
                       const int64_t *sizes, int32_t threads);

/* Writes a .latte file from tensors in memory, through the writer `latte convert` uses:
   tensor i is names[i], dtypes[i], shapes[i][0 .. ndims[i]), data[i] of nbytes[i] bytes
   (contiguous, row-major, little-endian). config_path: a LaTtE-Flow config.json to plan
   expert groups with (NULL: one shared section). The file appears only when complete. */
int latte_write(const char *path, int64_t count, const char *const *names, const char *const *dtypes,
                const int32_t *ndims, const int64_t *const *shapes, const void *const *data,
                const int64_t *nbytes, int64_t meta_count, const char *const *meta_keys,
                const char *const *meta_values, const char *config_path, int32_t threads);

#ifdef __cplusplus
}
#endif
#endif /* LATTE_H */
