/*
 * mba.hpp: a header-only C++17 interface to mba over the C ABI of mba.h.
 *
 *   auto a = mba::array<uint32_t>::create("shm://sensor", 4);
 *   a.push_back(7);                       // grows as needed
 *   auto b = mba::array<uint32_t>::attach("shm://sensor", mba::read_only);
 *   for (uint32_t v : b.view()) ...       // zero-copy view of the published elements
 *
 *   mba::remove("shm://sensor");          // removes the name; attached arrays keep working
 *
 * Errors throw mba::error, carrying the status and mba_last_error()'s message.
 * mba::array is move-only and frees its handle in its destructor.
 * Thread rules are mba.h's: reads from any thread; push_back and friends from several threads
 * only on a handle without mba::exclusive.
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#ifndef MBA_HPP
#define MBA_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "mba.h"

namespace mba {

/* A failed mba call: the status code and the library's message. */
class error : public std::runtime_error {
  public:
    error(mba_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    mba_status status() const noexcept { return status_; }

  private:
    mba_status status_;
};

/* Flags, as in mba.h. */
inline constexpr std::uint32_t read_write = 0;
inline constexpr std::uint32_t read_only = MBA_READ_ONLY;
inline constexpr std::uint32_t exclusive = MBA_EXCLUSIVE;
inline constexpr std::uint32_t overwrite = MBA_OVERWRITE;

namespace detail {
template <class T> struct dtype_of;
template <> struct dtype_of<std::int8_t> { static constexpr std::uint32_t value = MBA_I8; };
template <> struct dtype_of<std::uint8_t> { static constexpr std::uint32_t value = MBA_U8; };
template <> struct dtype_of<std::int16_t> { static constexpr std::uint32_t value = MBA_I16; };
template <> struct dtype_of<std::uint16_t> { static constexpr std::uint32_t value = MBA_U16; };
template <> struct dtype_of<std::int32_t> { static constexpr std::uint32_t value = MBA_I32; };
template <> struct dtype_of<std::uint32_t> { static constexpr std::uint32_t value = MBA_U32; };
template <> struct dtype_of<std::int64_t> { static constexpr std::uint32_t value = MBA_I64; };
template <> struct dtype_of<std::uint64_t> { static constexpr std::uint32_t value = MBA_U64; };
template <> struct dtype_of<float> { static constexpr std::uint32_t value = MBA_F32; };
template <> struct dtype_of<double> { static constexpr std::uint32_t value = MBA_F64; };

inline void check(mba_status s) {
    if (s != MBA_OK) throw error(s, mba_last_error());
}

/* The name of a dtype code, as numpy spells it ("uint32"), or "dtype N" for a code this header
 * does not know. */
inline std::string dtype_name(std::uint32_t code) {
    static const char *const names[] = {"int8",    "uint8",   "int16", "uint16",  "int32",
                                        "uint32",  "int64",   "uint64", "float32", "float64",
                                        "bool",    "float16", "complex64", "complex128"};
    if (code >= 1 && code <= sizeof names / sizeof names[0]) return names[code - 1];
    return "dtype " + std::to_string(code);
}
} // namespace detail

/* Removes the name uri ("shm://NAME" or "file://PATH"); arrays already attached keep working,
 * and the storage is freed when the last handle closes. Throws mba::error (MBA_ERR_NOT_FOUND
 * when there is no such array). */
inline void remove(const std::string &uri) { detail::check(mba_delete(uri.c_str())); }

/* A contiguous, zero-copy view of elements [0, size) taken at one moment. */
template <class T> class view {
  public:
    view(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
    T *begin() const noexcept { return data_; }
    T *end() const noexcept { return data_ + size_; }
    T *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T &operator[](std::size_t i) const noexcept { return data_[i]; }

  private:
    T *data_;
    std::size_t size_;
};

/* An mba array of T: one of std::int8_t ... std::uint64_t, float, double. */
template <class T> class array {
    static_assert(std::is_same_v<T, std::remove_cv_t<T>>, "mba::array<T>: T must not be const or volatile");

  public:
    using value_type = T;
    using size_type = std::size_t;
    using iterator = T *;
    using const_iterator = const T *;
    static constexpr std::uint32_t dtype = detail::dtype_of<T>::value;

    /* Creates a new array at uri ("shm://NAME", "file://PATH", or "" for anonymous). */
    static array create(const std::string &uri, std::uint64_t capacity = 0, std::uint32_t flags = 0) {
        mba_array *h = nullptr;
        detail::check(mba_create(uri.c_str(), dtype, capacity, flags, &h));
        return array(h);
    }
    /* Attaches to an existing array; throws MBA_ERR_INVALID_ARGUMENT if it does not hold T. */
    static array attach(const std::string &uri, std::uint32_t flags = 0) {
        mba_array *h = nullptr;
        detail::check(mba_attach(uri.c_str(), flags, &h));
        return checked(h, uri);
    }
    /* Attaches a new handle to the array behind a descriptor (an anonymous array's memfd). */
    static array attach_fd(int fd, std::uint32_t flags = 0) {
        mba_array *h = nullptr;
        detail::check(mba_attach_fd(fd, flags, &h));
        return checked(h, "fd " + std::to_string(fd));
    }

    array(array &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    array &operator=(array &&o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, nullptr);
        }
        return *this;
    }
    array(const array &) = delete;
    array &operator=(const array &) = delete;
    ~array() { reset(); }

    void push_back(const T &v) { detail::check(mba_append(h_, &v)); }
    void append(const T *values, std::size_t n) { detail::check(mba_extend(h_, values, n)); }
    T pop_back() {
        T v;
        detail::check(mba_pop(h_, &v));
        return v;
    }
    void reserve(std::uint64_t n) { detail::check(mba_reserve(h_, n)); }
    void sync(bool wait = true) { detail::check(mba_msync(h_, wait ? MBA_SYNC : MBA_ASYNC)); }

    /* Unchecked access, like std::vector: i must be below size(). */
    T &operator[](std::size_t i) noexcept { return data()[i]; }
    const T &operator[](std::size_t i) const noexcept { return data()[i]; }
    /* Checked access: throws mba::error (MBA_ERR_OUT_OF_BOUNDS) past the published length. */
    T &at(std::size_t i) { return data()[checked_index(i)]; }
    const T &at(std::size_t i) const { return data()[checked_index(i)]; }
    T get(std::size_t i) const {
        T v;
        detail::check(mba_get(h_, i, &v));
        return v;
    }
    void set(std::size_t i, const T &v) { detail::check(mba_set(h_, i, &v)); }

    /* The published length; other processes may append at any moment. */
    std::size_t size() const noexcept { return static_cast<std::size_t>(mba_len(h_)); }
    bool empty() const noexcept { return size() == 0; }
    std::size_t capacity() const noexcept { return static_cast<std::size_t>(mba_capacity(h_)); }
    /* Element 0; never moves while this array lives. */
    T *data() const noexcept { return static_cast<T *>(mba_data(h_)); }
    /* Iterators over the elements published when begin()/end() are called. */
    iterator begin() noexcept { return data(); }
    iterator end() noexcept { return data() + size(); }
    const_iterator begin() const noexcept { return data(); }
    const_iterator end() const noexcept { return data() + size(); }
    /* A zero-copy view of the elements published now. */
    mba::view<T> view() const noexcept { return mba::view<T>(data(), size()); }

    /* The C handle, still owned by this object. */
    mba_array *handle() const noexcept { return h_; }
    /* Gives up ownership of the C handle: the caller must mba_free it. */
    mba_array *release() noexcept { return std::exchange(h_, nullptr); }

  private:
    explicit array(mba_array *h) noexcept : h_(h) {}
    static array checked(mba_array *h, const std::string &what) {
        array a(h);
        if (mba_dtype(h) != dtype)
            throw error(MBA_ERR_INVALID_ARGUMENT, what + " holds " + detail::dtype_name(mba_dtype(h)) +
                                                      " elements, not the " + detail::dtype_name(dtype) +
                                                      " of this mba::array");
        return a;
    }
    std::size_t checked_index(std::size_t i) const {
        std::size_t n = size();
        if (i >= n)
            throw error(MBA_ERR_OUT_OF_BOUNDS,
                        "index " + std::to_string(i) + " is out of bounds (len " + std::to_string(n) + ")");
        return i;
    }
    void reset() noexcept {
        if (h_) mba_free(std::exchange(h_, nullptr));
    }

    mba_array *h_ = nullptr;
};

} // namespace mba

#endif /* MBA_HPP */
