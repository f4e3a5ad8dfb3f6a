// The JSON reader on arbitrary bytes; on success the document is re-serialized and must
// parse again to an equal shape.
#include "bulkhead/detail/json.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace json = bulkhead::detail::json;

static void write_value(json::writer& w, const json::value& v) {
    switch (v.type()) {
    case json::kind::null: w.null(); break;
    case json::kind::boolean: w.boolean(v.as_bool()); break;
    case json::kind::number: w.raw_number(v.text()); break;
    case json::kind::string: w.string(v.as_string()); break;
    case json::kind::array:
        w.begin_array();
        for (const auto& i : v.items()) write_value(w, i);
        w.end_array();
        break;
    case json::kind::object:
        w.begin_object();
        for (const auto& m : v.members()) {
            w.key(m.first);
            write_value(w, m.second);
        }
        w.end_object();
        break;
    }
}

static bool same_shape(const json::value& a, const json::value& b) {
    if (a.type() != b.type() || a.size() != b.size()) return false;
    if (a.is_string() && a.as_string() != b.as_string()) return false;
    if (a.is_bool() && a.as_bool() != b.as_bool()) return false;
    if (a.is_number() && a.text() != b.text()) return false;
    for (std::size_t i = 0; i < a.items().size(); ++i)
        if (!same_shape(a.items()[i], b.items()[i])) return false;
    for (std::size_t i = 0; i < a.members().size(); ++i)
        if (a.members()[i].first != b.members()[i].first ||
            !same_shape(a.members()[i].second, b.members()[i].second))
            return false;
    return true;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto v = json::parse(text);
    if (!v) {
        if (v.error().line() == 0 || v.error().column() == 0) std::abort();
        return 0;
    }
    json::writer w;
    write_value(w, *v);
    auto again = json::parse(w.str());
    if (!again || !same_shape(*v, *again)) std::abort();
    return 0;
}
