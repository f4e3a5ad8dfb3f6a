// Built with -fno-exceptions: the library compiles, results work, and value() on an error
// aborts (checked in a child process) instead of throwing.
#include "bulkhead/bulkhead.hpp"
#include "bulkhead/detail/json.hpp"

#include <csignal>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

static bulkhead::result<int> half(int x) {
    if (x % 2) return bulkhead::error(bulkhead::errc::invalid_argument, "half").value("odd");
    return x / 2;
}

int main() {
    auto a = half(4);
    if (!a || *a != 2) return 1;
    auto b = half(3);
    if (b || b.error().message() != "half \"odd\": invalid argument") return 2;
    if (!bulkhead::detail::json::parse("[1,2]")) return 3;
    auto c = bulkhead::fork_call([] {
        int devnull = ::open("/dev/null", O_WRONLY);
        ::dup2(devnull, 2); // keep the expected fatal message out of the test log
        return half(5).value();
    });
    if (!c) return 4;
    auto st = c->wait();
    if (!st || !st->killed_by(SIGABRT)) return 5;
    std::puts("no-exceptions build: ok");
    return 0;
}
