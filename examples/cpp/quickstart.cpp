// quickstart.cpp: mba::array<T>, a shared, growable std::vector-like array, from C++17.
#include <cstdint>
#include <iostream>
#include <mba.hpp>

int main() try {
    auto a = mba::array<std::uint32_t>::create("shm://sensor", 4);
    for (std::uint32_t i = 0; i < 1000; i++) a.push_back(i);  // grows as needed
    auto r = mba::array<std::uint32_t>::attach("shm://sensor", mba::read_only);
    std::uint64_t sum = 0;
    for (std::uint32_t v : r.view()) sum += v;                 // zero copy
    std::cout << "len=" << r.size() << " last=" << r[r.size() - 1] << " sum=" << sum << "\n";
    mba::remove("shm://sensor");  // attached handles keep working until they go
} catch (const mba::error &e) {
    std::cerr << e.what() << "\n";
    return 1;
}
