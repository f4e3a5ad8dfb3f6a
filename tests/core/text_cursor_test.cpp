#include "bulkhead/detail/cursor.hpp"
#include "bulkhead/detail/text.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

using namespace bulkhead::detail;

TEST_CASE("byte_cursor never reads past the end", "[unit][cursor]") {
    const std::array<std::uint8_t, 7> b{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde};
    byte_cursor c{std::span<const std::uint8_t>(b)};
    std::uint16_t v16 = 0;
    std::uint32_t v32 = 0;
    REQUIRE(c.u16be(v16));
    CHECK(v16 == 0x1234);
    REQUIRE(c.u32be(v32));
    CHECK(v32 == 0x56789abc);
    CHECK(c.offset() == 6);
    CHECK_FALSE(c.u16be(v16)); // one byte left
    CHECK(c.offset() == 6);    // failure does not move
    std::uint8_t v8 = 0;
    REQUIRE(c.u8(v8));
    CHECK(v8 == 0xde);
    CHECK(c.empty());
    CHECK_FALSE(c.u8(v8));
    CHECK_FALSE(c.skip(1));
    CHECK(c.seek(1));
    REQUIRE(c.u16le(v16));
    CHECK(v16 == 0x5634);
    CHECK_FALSE(c.seek(8));
    std::span<const std::uint8_t> view;
    CHECK_FALSE(c.bytes(10, view));
    REQUIRE(c.bytes(2, view));
    CHECK(view[0] == 0x78);
}

TEST_CASE("parse_int is strict", "[unit][text]") {
    CHECK(parse_int<int>("42") == 42);
    CHECK(parse_int<int>("-5") == -5);
    CHECK_FALSE(parse_int<unsigned>("-5"));
    CHECK_FALSE(parse_int<int>("+5"));
    CHECK_FALSE(parse_int<int>("5x"));
    CHECK_FALSE(parse_int<int>(""));
    CHECK_FALSE(parse_int<std::uint8_t>("256"));
    CHECK(parse_int<std::uint32_t>("ff", 16) == 255u);
}

TEST_CASE("split, trim and lines", "[unit][text]") {
    CHECK(trim("  a b \n") == "a b");
    auto f = split("a::b", ':');
    REQUIRE(f.size() == 3);
    CHECK(f[1].empty());
    auto w = split_ws("  cpu  100\t200 \n");
    REQUIRE(w.size() == 3);
    CHECK(w[2] == "200");
    int n = 0;
    for_each_line("x\ny\nz", [&](std::string_view) { ++n; });
    CHECK(n == 3);
    CHECK(iequals("Issue", "iSSUE"));
    CHECK_FALSE(iequals("issue", "issuewild"));
}
