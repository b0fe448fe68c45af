// mba_window.hpp: typed reads, borrows, budgets, errors, move-only RAII.
// Usage: window_test DIR     Prints "cpp window ok".
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <mba_window.hpp>

#define EXPECT(cond)                                                                                   \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);                   \
            std::exit(1);                                                                              \
        }                                                                                              \
    } while (0)

template <class T> static void write(const std::string &path, const std::vector<T> &v) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char *>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    const std::string dir = argv[1];
    const long page = sysconf(_SC_PAGESIZE);
    std::vector<double> d(100000);
    for (std::size_t i = 0; i < d.size(); i++) d[i] = static_cast<double>(i) * 0.25;
    write(dir + "/d.f64", d);
    std::vector<std::complex<float>> z(1000);
    for (std::size_t i = 0; i < z.size(); i++) z[i] = {float(i), -float(i)};
    write(dir + "/z.c64", z);

    mba::window_options o;
    o.window_size = static_cast<std::uint64_t>(page);
    o.max_mapped_bytes = 4 * static_cast<std::uint64_t>(page);
    o.max_open_files = 1;
    mba::window_manager m(o);
    auto c = m.open<double>(dir + "/d.f64");
    EXPECT(c.size() == d.size());
    EXPECT(c.read<double>(0, d.size()) == d);  // far more than the budget, across windows
    EXPECT(c.read<double>(777, 3) == std::vector<double>(d.begin() + 777, d.begin() + 780));
    auto w = c.pin<double>(1000, 10);
    EXPECT(w.size() >= 1 && w.size() <= 10 && w[0] == d[1000]);
    auto zc = m.open<std::complex<float>>(dir + "/z.c64");
    EXPECT(zc.read<std::complex<float>>(999, 1)[0] == std::complex<float>(999, -999));

    bool threw = false;
    try {
        c.read<float>(0, 1);
    } catch (const mba::error &e) {
        threw = e.status() == MBA_ERR_INVALID_ARGUMENT;
    }
    EXPECT(threw);
    threw = false;
    try {
        c.read<double>(d.size(), 1);
    } catch (const mba::error &e) {
        threw = e.status() == MBA_ERR_OUT_OF_BOUNDS && std::string(e.what()).find("beyond") != std::string::npos;
    }
    EXPECT(threw);

    auto s = m.stats();
    EXPECT(s.peak_mapped_bytes <= o.max_mapped_bytes && s.peak_open_files <= 1);
    mba::window_cursor moved = std::move(c);
    auto c2 = moved.clone();
    EXPECT(c2.size() == d.size());
    EXPECT(!m.close());  // `moved` and `c2` still pin a window
    threw = false;
    try {
        m.open(dir + "/d.f64");  // the manager is closed
    } catch (const mba::error &e) {
        threw = e.status() == MBA_ERR_INVALID_ARGUMENT;
    }
    EXPECT(threw);
    std::printf("cpp window ok\n");
    return 0;
}
