// array_test.cpp: mba::array<T> from C++17, built by the harness (also under ASan).
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "mba.hpp"
#include "mba.hpp" // include guard

static int failures;
#define CHECK(c)                                                  \
    do {                                                          \
        if (!(c)) {                                               \
            std::printf("line %d: failed: %s\n", __LINE__, #c);   \
            failures++;                                           \
        }                                                         \
    } while (0)

template <class F> static mba_status status_of(F f) {
    try {
        f();
    } catch (const mba::error &e) {
        return e.status();
    }
    return MBA_OK;
}

int main(int argc, char **argv) {
    std::string uri = argc > 1 ? argv[1] : "shm://mba-cpp-test";
    mba_delete(uri.c_str());
    {
        auto a = mba::array<std::uint32_t>::create(uri, 4);
        for (std::uint32_t i = 0; i < 100000; i++) a.push_back(i);
        CHECK(a.size() == 100000);
        CHECK(a[99999] == 99999 && a.at(5) == 5 && a.get(7) == 7);
        std::uint64_t sum = std::accumulate(a.begin(), a.end(), std::uint64_t{0});
        CHECK(sum == 99999ull * 100000 / 2);

        auto r = mba::array<std::uint32_t>::attach(uri, mba::read_only);
        const std::uint32_t *p = r.data();
        std::vector<std::uint32_t> more(50000, 7);
        a.append(more.data(), more.size());
        CHECK(r.size() == 150000 && r.data() == p && r.view()[149999] == 7);
        std::uint64_t seen = 0;
        for (std::uint32_t v : r.view()) seen += v;
        CHECK(seen == sum + 7ull * 50000);

        CHECK(status_of([&] { (void)a.at(150000); }) == MBA_ERR_OUT_OF_BOUNDS);
        CHECK(status_of([&] { r.push_back(1); }) == MBA_ERR_READ_ONLY);
        CHECK(status_of([&] { (void)mba::array<float>::attach(uri); }) == MBA_ERR_INVALID_ARGUMENT);
        try {
            (void)mba::array<float>::attach(uri);
        } catch (const mba::error &e) {
            // Dtypes by name, not by code.
            CHECK(std::string(e.what()).find("holds uint32 elements, not the float32") != std::string::npos);
        }
        CHECK(status_of([&] { (void)mba::array<std::uint32_t>::create(uri); }) == MBA_ERR_EXISTS);
        try {
            (void)mba::array<std::uint32_t>::attach("shm://mba-cpp-missing");
            CHECK(false);
        } catch (const mba::error &e) {
            CHECK(e.status() == MBA_ERR_NOT_FOUND && std::string(e.what()).find("mba-cpp-missing") != std::string::npos);
        }

        // Move-only RAII: the moved-from object owns nothing, the moved-to one works.
        auto b = std::move(a);
        CHECK(a.handle() == nullptr && b.size() == 150000);
        CHECK(b.pop_back() == 7 && b.size() == 149999);
        b[0] = 42;
        CHECK(r.get(0) == 42);

        // Exclusive lease.
        auto l = mba::array<std::uint32_t>::attach(uri, mba::exclusive);
        CHECK(status_of([&] { b.push_back(1); }) == MBA_ERR_BUSY);
        l.push_back(1);

        auto anon = mba::array<double>::create("");
        anon.push_back(2.5);
        auto twin = mba::array<double>::attach_fd(mba_fd(anon.handle()));
        CHECK(twin.size() == 1 && twin[0] == 2.5);
    }
    CHECK(status_of([&] { mba::remove(uri); }) == MBA_OK);
    CHECK(status_of([&] { mba::remove(uri); }) == MBA_ERR_NOT_FOUND);
    CHECK(status_of([&] { (void)mba::array<std::uint32_t>::attach(uri); }) == MBA_ERR_NOT_FOUND);
    // A NUL inside a URI would cut the name short in C: it is an error instead, never another name.
    const std::string with_nul(uri + std::string("\0x", 2));
    CHECK(status_of([&] { (void)mba::array<std::uint32_t>::create(with_nul, 4); }) == MBA_ERR_INVALID_ARGUMENT);
    CHECK(status_of([&] { (void)mba::array<std::uint32_t>::attach(with_nul); }) == MBA_ERR_INVALID_ARGUMENT);
    CHECK(status_of([&] { mba::remove(with_nul); }) == MBA_ERR_INVALID_ARGUMENT);
    CHECK(status_of([&] { (void)mba::array<std::uint32_t>::attach(uri); }) == MBA_ERR_NOT_FOUND);
    if (failures) return 1;
    std::printf("cpp ok\n");
    return 0;
}
