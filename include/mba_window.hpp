/*
 * mba_window.hpp: the windowed reader of mba.h for C++17, header-only over the C ABI.
 *
 *   mba::window_options o;
 *   o.window_size = 1 << 20; o.max_mapped_bytes = 64 << 20; o.max_open_files = 16;
 *   mba::window_manager m(o);
 *   auto c = m.open<double>("data.f64");                 // raw file of doubles
 *   std::vector<double> v = c.read<double>(1000, 500);    // any range, across windows
 *   auto n = m.open("table.npy", mba::window_kind::npy); // .npy (or kind::mba, kind::automatic)
 *   mba::view<const float> w = n.pin<float>(0);           // zero copy, valid until n moves
 *
 * Managers and cursors are RAII and move-only; errors throw mba::error. A manager may be used
 * from any number of threads at once; a cursor from one thread at a time. Budgets hold at
 * every moment; see mba_window_read and mba_window_pin in mba.h for the SIGBUS contract.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef MBA_WINDOW_HPP
#define MBA_WINDOW_HPP

#include <complex>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mba.hpp"

namespace mba {

/* What a cursor reads. */
enum class window_kind : std::uint32_t {
    automatic = MBA_WINDOW_AUTO,
    raw = MBA_WINDOW_RAW,
    npy = MBA_WINDOW_NPY,
    mba = MBA_WINDOW_MBA,
};

namespace detail {
/* dtype codes of the windowed reader: mba.hpp's, plus bool and the complex types. */
template <class T> struct window_dtype_of : dtype_of<T> {};
template <> struct window_dtype_of<bool> { static constexpr std::uint32_t value = 11; };
template <> struct window_dtype_of<std::complex<float>> { static constexpr std::uint32_t value = 13; };
template <> struct window_dtype_of<std::complex<double>> { static constexpr std::uint32_t value = 14; };
} // namespace detail

/* A reader of one file. Made by window_manager::open. */
class window_cursor {
  public:
    window_cursor(window_cursor &&o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
    window_cursor &operator=(window_cursor &&o) noexcept {
        if (this != &o) {
            reset();
            c_ = std::exchange(o.c_, nullptr);
        }
        return *this;
    }
    window_cursor(const window_cursor &) = delete;
    window_cursor &operator=(const window_cursor &) = delete;
    ~window_cursor() { reset(); }

    /* A second cursor on the same file, pinning the same window. */
    window_cursor clone() const {
        mba_window_cursor *c = nullptr;
        detail::check(mba_window_cursor_clone(c_, &c));
        return window_cursor(c);
    }

    /* Elements visible as of the last refresh (reads past it refresh by themselves). */
    std::uint64_t size() const noexcept { return mba_window_len(c_); }
    /* Re-reads the file's size (and header): growth is seen. Returns the new size(). */
    std::uint64_t refresh() {
        std::uint64_t n = 0;
        detail::check(mba_window_refresh(c_, &n));
        return n;
    }
    mba_window_cursor_info info() const {
        mba_window_cursor_info i{};
        detail::check(mba_window_info(c_, &i));
        return i;
    }
    std::uint32_t dtype() const { return info().dtype; }

    /* Copies elements [index, index + count) into out, in this machine's byte order.
     * Throws MBA_ERR_INVALID_ARGUMENT if T is not the file's element type. */
    template <class T> void read(std::uint64_t index, T *out, std::uint64_t count) {
        check_type<T>();
        detail::check(mba_window_read(c_, index, count, out));
    }
    template <class T> std::vector<T> read(std::uint64_t index, std::uint64_t count) {
        std::vector<T> v(static_cast<std::size_t>(count));
        read(index, v.data(), count);
        return v;
    }
    /* Raw bytes of elements [index, index + count), whatever their type. */
    void read_raw(std::uint64_t index, void *out, std::uint64_t count) {
        detail::check(mba_window_read(c_, index, count, out));
    }

    /* Lends out the window holding element index: at most count elements (0: as many as the
     * window holds), at least one. Valid until this cursor's next read, pin, unpin or
     * destruction. The bytes are the file's (mind info().byteswapped). */
    template <class T> mba::view<const T> pin(std::uint64_t index, std::uint64_t count = 0) {
        check_type<T>();
        mba_window_view v;
        detail::check(mba_window_pin(c_, index, count, &v));
        return mba::view<const T>(static_cast<const T *>(v.data), static_cast<std::size_t>(v.count));
    }
    /* The raw form of pin(): the whole mba_window_view. */
    mba_window_view pin_raw(std::uint64_t index, std::uint64_t count = 0) {
        mba_window_view v;
        detail::check(mba_window_pin(c_, index, count, &v));
        return v;
    }
    void unpin() { detail::check(mba_window_unpin(c_)); }

    mba_window_cursor *handle() const noexcept { return c_; }

  private:
    friend class window_manager;
    explicit window_cursor(mba_window_cursor *c) noexcept : c_(c) {}
    template <class T> void check_type() const {
        std::uint32_t have = dtype(), want = detail::window_dtype_of<T>::value;
        if (have != want)
            throw error(MBA_ERR_INVALID_ARGUMENT,
                        "the file holds dtype " + std::to_string(have) + ", not " + std::to_string(want));
    }
    void reset() noexcept {
        if (c_) mba_window_cursor_free(std::exchange(c_, nullptr));
    }
    mba_window_cursor *c_ = nullptr;
};

/* The budgets of a window_manager; 0 where mba_window_config_init's default is wanted. */
struct window_options {
    std::uint64_t window_size = 0;      /* bytes per window; 0: 4 MiB (see whole_files) */
    std::uint64_t max_mapped_bytes = 0; /* 0: 1 GiB */
    std::uint64_t max_open_files = 0;   /* 0: 64 */
    std::uint64_t max_windows = 0;      /* 0: no limit but the bytes */
    bool whole_files = false;           /* window_size 0 for real: map whole files */
    bool mapped_reads = false;          /* MBA_WINDOW_MAPPED_READS */
};

/* Maps windows of files under budgets. Move-only; thread-safe. */
class window_manager {
  public:
    explicit window_manager(const window_options &o = {}) {
        mba_window_config c;
        mba_window_config_init(&c);
        if (o.window_size || o.whole_files) c.window_size = o.window_size;
        if (o.max_mapped_bytes) c.max_mapped_bytes = o.max_mapped_bytes;
        if (o.max_open_files) c.max_open_files = o.max_open_files;
        c.max_windows = o.max_windows;
        c.flags = o.mapped_reads ? MBA_WINDOW_MAPPED_READS : 0;
        detail::check(mba_window_manager_new(&c, &m_));
    }
    window_manager(window_manager &&o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    window_manager &operator=(window_manager &&o) noexcept {
        if (this != &o) {
            reset();
            m_ = std::exchange(o.m_, nullptr);
        }
        return *this;
    }
    window_manager(const window_manager &) = delete;
    window_manager &operator=(const window_manager &) = delete;
    ~window_manager() { reset(); }

    /* A cursor over the file at path: raw elements of dtype (0 = u8) from byte offset, or a
     * .npy / mba file (kind npy, mba, or automatic). */
    window_cursor open(const std::string &path, window_kind kind = window_kind::raw, std::uint32_t dtype = 0,
                       std::uint64_t offset = 0) {
        mba_window_cursor *c = nullptr;
        detail::check(mba_window_open(m_, path.c_str(), static_cast<std::uint32_t>(kind), dtype, offset, &c));
        return window_cursor(c);
    }
    /* A cursor over a file of T (raw from offset, or a .npy / mba file that must hold T). */
    template <class T>
    window_cursor open(const std::string &path, window_kind kind = window_kind::raw, std::uint64_t offset = 0) {
        return open(path, kind, detail::window_dtype_of<T>::value, offset);
    }
    /* The same for a descriptor the caller keeps open. */
    window_cursor open_fd(int fd, window_kind kind = window_kind::raw, std::uint32_t dtype = 0,
                          std::uint64_t offset = 0) {
        mba_window_cursor *c = nullptr;
        detail::check(mba_window_open_fd(m_, fd, static_cast<std::uint32_t>(kind), dtype, offset, &c));
        return window_cursor(c);
    }

    mba_window_stats stats() const {
        mba_window_stats s;
        detail::check(mba_window_manager_stats(m_, &s));
        return s;
    }
    /* Unmaps every unpinned window, closes idle descriptors; returns windows unmapped. */
    std::uint64_t collect() {
        std::uint64_t n = 0;
        detail::check(mba_window_manager_collect(m_, &n));
        return n;
    }
    /* Releases everything now; false if cursors still pinned windows (they go with them). */
    bool close() {
        mba_status s = mba_window_manager_close(m_);
        if (s == MBA_ERR_BUSY) return false;
        detail::check(s);
        return true;
    }

    mba_window_manager *handle() const noexcept { return m_; }

  private:
    void reset() noexcept {
        if (m_) mba_window_manager_free(std::exchange(m_, nullptr));
    }
    mba_window_manager *m_ = nullptr;
};

} // namespace mba

#endif /* MBA_WINDOW_HPP */
