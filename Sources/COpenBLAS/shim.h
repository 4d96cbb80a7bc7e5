// OpenBLAS (Debian libopenblas-dev): cblas_sgemm and friends for the runtime's matrix products.
#include <cblas.h>
