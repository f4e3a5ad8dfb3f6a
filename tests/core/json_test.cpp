#include "bulkhead/detail/json.hpp"

#include <catch2/catch.hpp>

#include <cmath>

#include <string>

namespace json = bulkhead::detail::json;

TEST_CASE("json reads every value kind with locations", "[unit][json]") {
    auto v = json::parse(R"({
  "name": "site-a",
  "ok": true, "none": null,
  "n": -12, "big": 18446744073709551615, "f": 1.5e2,
  "list": [1, "two", [3]],
  "esc": "a\"b\\c\/\n\u00e9\ud83d\ude00"
})");
    REQUIRE(v);
    REQUIRE(v->is_object());
    CHECK(v->size() == 8);
    CHECK(v->find("name")->as_string() == "site-a");
    CHECK(v->find("ok")->as_bool());
    CHECK(v->find("none")->is_null());
    CHECK(v->find("n")->as_int64() == -12);
    CHECK_FALSE(v->find("n")->as_uint64());
    CHECK(v->find("big")->as_uint64() == 18446744073709551615ull);
    CHECK_FALSE(v->find("big")->as_int64());
    CHECK(v->find("f")->as_double() == 150.0);
    CHECK_FALSE(v->find("f")->as_int64());
    const auto& list = *v->find("list");
    REQUIRE(list.items().size() == 3);
    CHECK(list.items()[2].items()[0].as_int64() == 3);
    CHECK(v->find("esc")->as_string() == "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(v->find("missing") == nullptr);
    CHECK(v->find("name")->where().line == 2);
    CHECK(v->find("name")->where().column == 11);
    CHECK(list.where().line == 5);
    CHECK(v->members()[0].first == "name"); // document order kept
}

TEST_CASE("json rejects what RFC 8259 rejects, with line:column", "[unit][json]") {
    struct bad_case {
        const char* text;
        unsigned line, col;
        const char* note;
    };
    const bad_case cases[] = {
        {"[1,]", 1, 4, "expected a value"},
        {"{\"a\":1,}", 1, 8, "expected a string key"},
        {"[01]", 1, 3, "leading zero"},
        {"// c\n1", 1, 1, "expected a value"},
        {"\"a\tb\"", 1, 3, "control character"},
        {"{\"a\" 1}", 1, 6, "expected ':'"},
        {"[1 2]", 1, 4, "expected ',' or ']'"},
        {"\"\\ud800\"", 1, 2, "lone high surrogate"},
        {"\"\\udc00\"", 1, 2, "lone low surrogate"},
        {"\"\xc3\x28\"", 1, 2, "invalid UTF-8"},
        {"\"\xed\xa0\x80\"", 1, 2, "invalid UTF-8"},
        {"\"\xc0\xaf\"", 1, 2, "invalid UTF-8"},
        {"{\"a\":1,\n \"a\":2}", 2, 2, "duplicate key"},
        {"tru", 1, 1, "invalid literal"},
        {"1 2", 1, 3, "unexpected content"},
        {"", 1, 1, "unexpected end"},
        {"[1.]", 1, 4, "digits after '.'"},
        {"[1e]", 1, 4, "digits in exponent"},
        {"\"abc", 1, 5, "unterminated string"},
        {"\"\\x\"", 1, 2, "invalid escape"},
        {"-", 1, 2, "truncated number"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        auto r = json::parse(c.text);
        REQUIRE_FALSE(r);
        CHECK(r.error().code() == bulkhead::errc::parse_error);
        CHECK(r.error().line() == c.line);
        CHECK(r.error().column() == c.col);
        CHECK(r.error().note_text().find(c.note) != std::string::npos);
    }
}

TEST_CASE("json bounds depth and size", "[unit][json]") {
    std::string deep(200, '[');
    deep += std::string(200, ']');
    auto r = json::parse(deep);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == bulkhead::errc::too_large);
    json::parse_options o;
    o.max_depth = 300;
    CHECK(json::parse(deep, o));
    o.max_size = 10;
    CHECK_FALSE(json::parse(deep, o));
    o = {};
    o.allow_duplicate_keys = true;
    CHECK(json::parse(R"({"a":1,"a":2})", o));
}

TEST_CASE("json writer escapes and round-trips through the reader", "[unit][json]") {
    json::writer w;
    w.begin_object()
        .field("s", "q\"\\\n\x01")
        .field("i", -3)
        .field("u", 7u)
        .field("b", false)
        .field("d", 0.25)
        .key("arr")
        .begin_array()
        .number(1)
        .string("x")
        .null()
        .begin_object()
        .end_object()
        .end_array()
        .end_object();
    CHECK(w.str() == R"({"s":"q\"\\\n\u0001","i":-3,"u":7,"b":false,"d":0.25,"arr":[1,"x",null,{}]})");
    auto back = json::parse(w.str());
    REQUIRE(back);
    CHECK(back->find("s")->as_string() == "q\"\\\n\x01");
    CHECK(back->find("arr")->size() == 4);
}

TEST_CASE("json numbers beyond double saturate the right way", "[unit][json]") {
    auto v = json::parse("[1e400, -1e400, 2e-444, -0.5e-400, 0.5e400, 0e999999999999]");
    REQUIRE(v);
    const auto& a = v->items();
    CHECK(a[0].as_double() == HUGE_VAL);
    CHECK(a[1].as_double() == -HUGE_VAL);
    CHECK(a[2].as_double() == 0.0);
    CHECK(a[3].as_double() == 0.0);
    CHECK(a[4].as_double() == HUGE_VAL);
    CHECK(a[5].as_double() == 0.0);
    CHECK(a[0].text() == "1e400"); // the source text is kept
}
