// OpenBLAS (Debian libopenblas-dev): cblas_sgemm and friends for the runtime's matrix products.
#include <cblas.h>
// Not in cblas.h: stops OpenBLAS's worker threads (restarted lazily by the next threaded call).
int blas_thread_shutdown_(void);
