// json-c (Debian libjson-c-dev): json_tokener_* for strict parsing, json_object_* for reading.
#include <json-c/json.h>
