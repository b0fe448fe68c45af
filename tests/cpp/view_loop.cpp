// view_loop.cpp: a C++ reader that dereferences every element of mba::array::view() and walks
// its iterators, again and again, while a peer scribbles the header (tests/hostile.rs).
// Usage: view_loop URI MS. Prints "ready" once attached, then "ok loops=N".
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mba.hpp"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    auto r = mba::array<std::uint64_t>::attach(argv[1], mba::read_only);
    std::printf("ready\n");
    std::fflush(stdout);
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::atoll(argv[2]));
    std::uint64_t loops = 0, sum = 0;
    while (std::chrono::steady_clock::now() < until) {
        for (std::uint64_t v : r.view()) sum += v;
        auto end = r.end(); // iterators rest on the same clamped length
        for (auto it = r.begin(); it < end; it += 97) sum += *it;
        loops++;
    }
    std::printf("ok loops=%llu sum=%llu\n", (unsigned long long)loops, (unsigned long long)(sum & 1));
    return 0;
}
