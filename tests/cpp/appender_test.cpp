// appender_test.cpp: mba::appender and mba::wait_len of mba.hpp. Prints "cpp appender ok".
// Usage: appender_test URI
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "mba.hpp"

#define CHECK(c)                                                      \
    do {                                                              \
        if (!(c)) {                                                   \
            std::printf("FAIL line %d: %s\n", __LINE__, #c);          \
            std::exit(1);                                             \
        }                                                             \
    } while (0)

template <class F> static mba_status status_of(F f) {
    try {
        f();
    } catch (const mba::error &e) {
        return e.status();
    }
    return MBA_OK;
}

static void forget(const std::string &uri) { mba_delete_ex(uri.c_str(), MBA_FORCE); }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const std::string uri = argv[1];
    using namespace std::chrono_literals;

    for (std::uint32_t flags : {mba::read_write, mba::exclusive}) {
        forget(uri);
        auto a = mba::array<std::uint64_t>::create(uri, 4, flags);
        auto r = mba::array<std::uint64_t>::attach(uri, mba::read_only);
        {
            mba::appender<std::uint64_t> out(a, 100);
            CHECK(out.batch() == 100);
            for (std::uint64_t i = 0; i < 250; i++) out.push_back(i);
            CHECK(r.size() == 200); // two blocks, published as they filled
            CHECK(out.pending() == 50);
            out.flush();
            CHECK(r.size() == 250 && out.pending() == 0);
            for (std::uint64_t i = 250; i < 300; i++) out.push_back(i);
            mba::appender<std::uint64_t> moved(std::move(out));
            CHECK(moved.pending() == 50);
            moved.push_back(300);
        } // destroyed: the open block is committed
        CHECK(r.size() == 301);
        for (std::uint64_t i = 0; i < 301; i++) CHECK(r[i] == i);
        // The default batch, and a plain append once the appender is gone.
        {
            mba::appender<std::uint64_t> out(a);
            CHECK(out.batch() == MBA_DEFAULT_BATCH);
            for (std::uint64_t i = 301; i < 10000; i++) out.push_back(i);
        }
        a.push_back(10000);
        CHECK(r.size() == 10001 && r[10000] == 10000 && r[5000] == 5000);
    }
    CHECK(status_of([&] {
              auto a = mba::array<std::uint64_t>::attach(uri);
              mba::appender<std::uint64_t> out(a, 0);
          }) == MBA_ERR_INVALID_ARGUMENT);
    CHECK(status_of([&] {
              forget(uri);
              auto s = mba::array<float>::create_shaped(uri, {3});
              mba::appender<float> out(s);
          }) == MBA_ERR_INVALID_ARGUMENT);

    // Near the maximum capacity: blocks shrink, the array fills exactly, then NO_SPACE.
    {
        forget(uri);
        mba_options o;
        mba_options_init(&o);
        o.dtype = MBA_U8;
        o.capacity = 1;
        o.max_capacity = 10000;
        o.flags = MBA_EXCLUSIVE;
        mba_array *h = nullptr;
        CHECK(mba_create_ex(uri.c_str(), &o, &h) == MBA_OK);
        mba_free(h);
        auto a = mba::array<std::uint8_t>::attach(uri, mba::exclusive);
        mba::appender<std::uint8_t> out(a);
        std::size_t pushed = 0;
        mba_status s = status_of([&] {
            for (;;) {
                out.push_back(static_cast<std::uint8_t>(pushed));
                pushed++;
            }
        });
        CHECK(s == MBA_ERR_NO_SPACE && pushed == 10000 && a.size() == 10000);
        for (std::size_t i = 0; i < 10000; i++) CHECK(a[i] == static_cast<std::uint8_t>(i));
    }

    // wait_len: at once when reached, a timeout when not, and woken by another process's appender.
    forget(uri);
    auto a = mba::array<std::uint32_t>::create(uri, 4);
    CHECK(mba::wait_len(a, 0) == 0);
    CHECK(mba::wait_len(a, 1, 0ms) == 0);
    CHECK(mba::wait_len(a, 1, 20ms) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        auto b = mba::array<std::uint32_t>::attach(uri);
        mba::appender<std::uint32_t> out(b, 64);
        usleep(20000);
        for (std::uint32_t i = 0; i < 1000; i++) out.push_back(i);
        out.flush();
        std::_Exit(0);
    }
    auto w = mba::array<std::uint32_t>::attach(uri);
    std::uint64_t seen = mba::wait_len(w, 1000, std::chrono::seconds(60));
    CHECK(seen == 1000);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (std::uint32_t i = 0; i < 1000; i++) CHECK(w[i] == i);
    mba::remove(uri);
    std::printf("cpp appender ok\n");
    return 0;
}
