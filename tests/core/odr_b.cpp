#include "bulkhead/bulkhead.hpp"
#include "bulkhead/detail/json.hpp"

int odr_b() {
    // Same category instance from both TUs: the inline function's static is shared.
    bulkhead::error e(bulkhead::errc::parse_error, "x");
    return &e.code().category() == &bulkhead::bulkhead_category() ? 1 : 0;
}
