// OpenSSL libcrypto (Debian libssl-dev): the EVP digest API, for SHA-256 of source files
// (SHA-NI accelerated: ~10x a portable implementation, which dominated `convert`'s time).
#include <openssl/evp.h>
