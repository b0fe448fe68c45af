// mba::array<T>::open_raw and open_npy: values, sub-ranges, rows, fixed length, writes shared.
// Usage: raw_test DIR NPY_PATH    (NPY_PATH: a .npy of int32 0..n-1)    Prints "cpp raw ok".
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <mba.hpp>

#define EXPECT(cond)                                                                                   \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                   \
            std::exit(1);                                                                              \
        }                                                                                              \
    } while (0)

template <class F> static int code_of(F f) {
    try {
        f();
    } catch (const mba::error &e) {
        return e.status();
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    const std::string path = std::string(argv[1]) + "/u16.bin";
    std::vector<std::uint16_t> v(10000);
    for (std::size_t i = 0; i < v.size(); i++) v[i] = static_cast<std::uint16_t>(i * 7919u);
    {
        std::ofstream f(path, std::ios::binary);
        f.write(reinterpret_cast<const char *>(v.data()), static_cast<std::streamsize>(v.size() * 2));
    }
    auto a = mba::array<std::uint16_t>::open_raw(path);
    EXPECT(a.size() == v.size() && a.kind() == MBA_KIND_RAW && !a.byte_swapped());
    for (std::size_t i = 0; i < v.size(); i++) EXPECT(a.at(i) == v[i]);
    auto r = mba::array<std::uint16_t>::open_raw(path, 2 * 100, 2 * 40, MBA_READ_ONLY, {4});
    EXPECT(r.size() == 40 && r.shape()[0] == 10 && r.at(0) == v[100]);
    EXPECT(code_of([&] { r.push_back(1); }) == MBA_ERR_INVALID_ARGUMENT);
    EXPECT(code_of([&] { mba::array<std::uint16_t>::open_raw(path, 0, 6, MBA_READ_ONLY, {4}); }) ==
           MBA_ERR_INVALID_ARGUMENT);
    EXPECT(mba::array<std::uint16_t>::open_raw(path, 0, 6, MBA_READ_ONLY | MBA_ROUND_DOWN, {2}).size() == 2);
    auto w = mba::array<std::uint16_t>::open_raw(path, 0, 0, 0);
    w.set(3, 65535);
    EXPECT(a.at(3) == 65535);
    EXPECT(code_of([&] { a.set(3, 1); }) == MBA_ERR_READ_ONLY);
    auto n = mba::array<std::int32_t>::open_npy(argv[2]);
    EXPECT(n.kind() == MBA_KIND_NPY && n.size() == 5000);
    for (std::size_t i = 0; i < n.size(); i++) EXPECT(n.at(i) == static_cast<std::int32_t>(i));
    EXPECT(code_of([&] { mba::array<float>::open_npy(argv[2]); }) == MBA_ERR_INVALID_ARGUMENT);
    std::printf("cpp raw ok\n");
}
