#include "bulkhead/bulkhead.hpp"
#include "bulkhead/detail/json.hpp"

int odr_b();
int odr_c();

int odr_a() {
    auto v = bulkhead::detail::json::parse(R"({"a": 1})");
    return v && v->find("a") ? 1 : 0;
}

int main() { return odr_a() + odr_b() + odr_c() == 3 ? 0 : 1; }
