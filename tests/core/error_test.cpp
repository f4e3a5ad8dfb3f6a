#include "bulkhead/error.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>

using bulkhead::errc;
using bulkhead::error;
using bulkhead::result;

namespace {
result<int> parse_positive(int v) {
    if (v <= 0) return error(errc::invalid_argument, "cgroup: write memory.max").value(std::to_string(v));
    return v;
}
result<int> twice(int v) {
    BULKHEAD_TRY_ASSIGN(int x, parse_positive(v));
    return 2 * x;
}
result<void> check(int v) {
    BULKHEAD_TRY(parse_positive(v));
    return bulkhead::ok();
}
} // namespace

TEST_CASE("error renders op, subject, position and note", "[unit][error]") {
    auto e = error::from_errno("cgroup: write memory.max", EINVAL).value("-5");
    CHECK(e.message() == "cgroup: write memory.max \"-5\": Invalid argument");
    CHECK(e.sys_errno() == EINVAL);

    auto p = error(errc::parse_error, "json").at(3, 14).note("expected ':' after key");
    CHECK(p.message() == "json at line 3:14: parse error (expected ':' after key)");
    CHECK(p.has_line());
    CHECK(p.line() == 3);
    CHECK(p.column() == 14);
    CHECK(p.sys_errno() == 0);

    auto o = error(errc::truncated, "dns: parse name").at_offset(17);
    CHECK(o.message() == "dns: parse name at offset 17: input truncated");
    CHECK(o.has_offset());

    auto s = error(errc::not_found, "mount").subject("/srv/site-a");
    CHECK(s.message() == "mount /srv/site-a: not found");
}

TEST_CASE("error quotes non-printable values", "[unit][error]") {
    CHECK(error::quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\x0a\\x01\"");
}

TEST_CASE("bulkhead category maps to generic conditions", "[unit][error]") {
    std::error_code ec = errc::not_found;
    CHECK(ec == std::errc::no_such_file_or_directory);
    CHECK(std::error_code(errc::timeout) == std::errc::timed_out);
    CHECK(std::string(ec.category().name()) == "bulkhead");
    for (int c = 0; c <= static_cast<int>(errc::state_error); ++c)
        CHECK_FALSE(bulkhead::bulkhead_category().message(c).empty());
}

TEST_CASE("result holds a value or an error", "[unit][error]") {
    auto a = twice(21);
    REQUIRE(a);
    CHECK(a.has_value());
    CHECK(*a == 42);
    CHECK(a.value() == 42);
    CHECK(a.value_or(0) == 42);
    CHECK(a == 42); // compares like std::expected
    CHECK_FALSE(a == 41);

    auto b = twice(-1);
    REQUIRE_FALSE(b);
    CHECK(b.error().code() == errc::invalid_argument);
    CHECK(b.value_or(7) == 7);
    CHECK_FALSE(b == 7);
    CHECK_THROWS_AS(b.value(), std::system_error);
    try {
        (void)b.value();
    } catch (const std::system_error& ex) {
        CHECK(std::string(ex.what()).find("write memory.max \"-1\"") != std::string::npos);
    }

    CHECK(check(1));
    CHECK_FALSE(check(0));
    CHECK_THROWS_AS(check(0).value(), std::system_error);
}

TEST_CASE("result works with move-only and non-default-constructible types", "[unit][error]") {
    struct no_default {
        explicit no_default(int v) : v(v) {}
        int v;
    };
    result<no_default> r(std::in_place, 5);
    CHECK(r->v == 5);
    result<std::unique_ptr<int>> u = std::make_unique<int>(9);
    REQUIRE(u);
    auto moved = std::move(u);
    CHECK(**moved == 9);
    std::unique_ptr<int> taken = std::move(moved).value();
    CHECK(*taken == 9);

    result<std::string> s = std::string("x");
    result<std::string> t = error(errc::busy, "rmdir");
    s = t;
    CHECK_FALSE(s);
    t = std::string("y");
    s = std::move(t);
    REQUIRE(s);
    CHECK(*s == "y");
}
