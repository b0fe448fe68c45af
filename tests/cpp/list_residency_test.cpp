// list_residency_test.cpp: mba::list, mba::remove, shapes, the new element types and
// mlock/munlock/madvise from C++17. Argument: a directory to work in.
#include <complex>
#include <cstdio>
#include <string>
#include <vector>

#include "mba.hpp"

static int failures;
#define CHECK(c)                                                \
    do {                                                        \
        if (!(c)) {                                             \
            std::printf("line %d: failed: %s\n", __LINE__, #c); \
            failures++;                                         \
        }                                                       \
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
    if (argc < 2) return 2;
    std::string dir = argv[1], frames = "file://" + dir + "/frames", flags = "file://" + dir + "/flags";
    {
        // Rows of 2x3 complex values.
        auto a = mba::array<std::complex<float>>::create_shaped(frames, {2, 3});
        CHECK(a.ndim() == 3 && a.row_size() == 6 && a.rows() == 0);
        std::vector<std::complex<float>> row(6);
        for (int r = 0; r < 4; r++) {
            for (int i = 0; i < 6; i++) row[i] = {float(r), float(i)};
            a.push_row(row.data());
        }
        CHECK((a.shape() == std::vector<std::uint64_t>{4, 2, 3}));
        CHECK(a.row(3)[5] == std::complex<float>(3, 5));
        CHECK(status_of([&] { (void)a.row(4); }) == MBA_ERR_OUT_OF_BOUNDS);
        // A row of the wrong size is refused by the library.
        CHECK(mba_extend(a.handle(), row.data(), 5) == MBA_ERR_INVALID_ARGUMENT);

        auto b = mba::array<mba::boolean>::create(flags);
        b.push_back(mba::boolean{1});
        b.push_back(mba::boolean{0});
        CHECK(bool(b.get(0)) && !bool(b.get(1)));
        auto h = mba::array<mba::float16>::create("");
        h.push_back(mba::float16{0x3e00});   // 1.5
        h.push_back(mba::float16{0x0001});   // smallest subnormal
        CHECK(h.get(0).to_float() == 1.5f && h.get(1).to_float() == 5.9604644775390625e-8f);
        CHECK(status_of([&] { (void)mba::array<std::complex<double>>::attach(frames); }) == MBA_ERR_INVALID_ARGUMENT);

        // Residency.
        a.mlock();
        a.munlock();
        for (auto adv : {mba::advice::normal, mba::advice::sequential, mba::advice::random, mba::advice::willneed,
                         mba::advice::dontneed})
            a.madvise(adv);
        CHECK(a.row(2)[0] == std::complex<float>(2, 0));

        // Listing.
        auto l = mba::list(dir);
        CHECK(l.size() == 2);
        if (l.size() == 2) {
            CHECK(l[0].uri == flags && l[0].ok() && l[0].dtype == MBA_BOOL && l[0].len == 2);
            CHECK(l[1].uri == frames && l[1].dtype == MBA_C64 && l[1].itemsize == 8);
            CHECK((l[1].shape == std::vector<std::uint64_t>{4, 2, 3}) && l[1].len == 24);
            CHECK(l[1].creator_alive == MBA_CREATOR_ALIVE && !l[1].owner.empty() && l[1].problem.empty());
        }
        CHECK(status_of([&] { (void)mba::list(dir + "/nonexistent"); }) == MBA_ERR_NOT_FOUND);
    }
    // Removing.
    mba::remove(frames);
    CHECK(status_of([&] { mba::remove(frames); }) == MBA_ERR_NOT_FOUND);
    std::FILE *f = std::fopen((dir + "/text").c_str(), "w");
    std::fputs("not an array", f);
    std::fclose(f);
    CHECK(status_of([&] { mba::remove("file://" + dir + "/text"); }) == MBA_ERR_CORRUPT);
    mba::remove("file://" + dir + "/text", true);
    mba::remove(flags);
    CHECK(mba::list(dir).empty());
    if (failures) return 1;
    std::printf("cpp list ok\n");
    return 0;
}
