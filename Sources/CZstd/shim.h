// libzstd (Debian libzstd-dev): ZSTD_compress2 / ZSTD_decompressDCtx and the advanced parameter API.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
