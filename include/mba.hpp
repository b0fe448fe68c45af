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

#include <chrono>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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

/* An element of a bool array: the byte as stored (a peer may write any value; 0 is false). */
struct boolean {
    std::uint8_t value;
    explicit operator bool() const noexcept { return value != 0; }
};
/* An element of a float16 array: the IEEE 754 binary16 bits; to_float converts exactly. */
struct float16 {
    std::uint16_t bits;
    float to_float() const noexcept {
        std::uint32_t sign = std::uint32_t(bits & 0x8000u) << 16, exp = (bits >> 10) & 0x1fu, frac = bits & 0x3ffu;
        std::uint32_t out;
        if (exp == 0 && frac == 0) {
            out = sign;
        } else if (exp == 0) { /* subnormal: normalise */
            std::uint32_t e = 127 - 15 + 1;
            while (!(frac & 0x400u)) {
                frac <<= 1;
                e--;
            }
            out = sign | (e << 23) | ((frac & 0x3ffu) << 13);
        } else if (exp == 0x1f) {
            out = sign | 0x7f800000u | (frac << 13);
        } else {
            out = sign | ((exp + 127 - 15) << 23) | (frac << 13);
        }
        float f;
        std::memcpy(&f, &out, sizeof f);
        return f;
    }
};

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
template <> struct dtype_of<boolean> { static constexpr std::uint32_t value = MBA_BOOL; };
template <> struct dtype_of<float16> { static constexpr std::uint32_t value = MBA_F16; };
template <> struct dtype_of<std::complex<float>> { static constexpr std::uint32_t value = MBA_C64; };
template <> struct dtype_of<std::complex<double>> { static constexpr std::uint32_t value = MBA_C128; };

inline void check(mba_status s) {
    if (s != MBA_OK) throw error(s, mba_last_error());
}

/* `s` as a C string for the library; a NUL inside it would silently cut the name there, so it is
 * an error (MBA_ERR_INVALID_ARGUMENT) instead. */
inline const char *c_uri(const std::string &s) {
    if (s.find('\0') != std::string::npos)
        throw error(MBA_ERR_INVALID_ARGUMENT, "mba: URI \"" + s.substr(0, s.find('\0')) + "\\0...\" contains a NUL byte");
    return s.c_str();
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

/* How the data will be accessed, for array::madvise (madvise(2)). */
enum class advice : std::uint32_t {
    normal = MBA_ADVICE_NORMAL,
    sequential = MBA_ADVICE_SEQUENTIAL,
    random = MBA_ADVICE_RANDOM,
    willneed = MBA_ADVICE_WILLNEED,
    dontneed = MBA_ADVICE_DONTNEED,
    hugepage = MBA_ADVICE_HUGEPAGE,
};

/* An mba array of T: one of std::int8_t ... std::uint64_t, float, double, mba::boolean,
 * mba::float16, std::complex<float>, std::complex<double>. */
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
        detail::check(mba_create(detail::c_uri(uri), dtype, capacity, flags, &h));
        return array(h);
    }
    /* Creates an array whose rows have the extents `row_extents` (C order): rows are appended
     * whole, with push_row. create_shaped(uri, {480, 640}) makes an array of 480x640 frames. */
    static array create_shaped(const std::string &uri, const std::vector<std::uint64_t> &row_extents,
                               std::uint64_t capacity = 0, std::uint32_t flags = 0) {
        if (row_extents.size() + 1 > MBA_MAX_DIMS)
            throw error(MBA_ERR_INVALID_ARGUMENT, "at most " + std::to_string(MBA_MAX_DIMS) + " dimensions");
        mba_options o;
        mba_options_init(&o);
        o.flags = flags;
        o.dtype = dtype;
        o.capacity = capacity;
        o.ndim = static_cast<std::uint32_t>(row_extents.size() + 1);
        for (std::size_t i = 0; i < row_extents.size(); i++) o.shape[i + 1] = row_extents[i];
        mba_array *h = nullptr;
        detail::check(mba_create_ex(uri.empty() ? nullptr : detail::c_uri(uri), &o, &h));
        return array(h);
    }
    /* Attaches to an existing array; throws MBA_ERR_INVALID_ARGUMENT if it does not hold T. */
    static array attach(const std::string &uri, std::uint32_t flags = 0) {
        mba_array *h = nullptr;
        detail::check(mba_attach(detail::c_uri(uri), flags, &h));
        return checked(h, uri);
    }
    /* Attaches a new handle to the array behind a descriptor (an anonymous array's memfd). */
    static array attach_fd(int fd, std::uint32_t flags = 0) {
        mba_array *h = nullptr;
        detail::check(mba_attach_fd(fd, flags, &h));
        return checked(h, "fd " + std::to_string(fd));
    }
    /* Maps the headerless file `path` (or the byte range offset .. offset + length of it; length 0
     * means to the end) as elements of T in rows of `row_extents`, of fixed length: push_back,
     * append, pop_back and reserve throw MBA_ERR_INVALID_ARGUMENT. `flags`: mba::read_only
     * (MBA_READ_ONLY), MBA_ROUND_DOWN (a length that is not a whole number of rows is rounded
     * down instead of refused). */
    static array open_raw(const std::string &path, std::uint64_t offset = 0, std::uint64_t length = 0,
                          std::uint32_t flags = MBA_READ_ONLY, const std::vector<std::uint64_t> &row_extents = {}) {
        if (row_extents.size() + 1 > MBA_MAX_DIMS)
            throw error(MBA_ERR_INVALID_ARGUMENT, "at most " + std::to_string(MBA_MAX_DIMS) + " dimensions");
        mba_options o;
        mba_options_init(&o);
        o.flags = flags;
        o.dtype = dtype;
        o.offset = offset;
        o.length = length;
        o.ndim = static_cast<std::uint32_t>(row_extents.size() + 1);
        for (std::size_t i = 0; i < row_extents.size(); i++) o.shape[i + 1] = row_extents[i];
        mba_array *h = nullptr;
        detail::check(mba_attach_ex(detail::c_uri("raw://" + path), &o, &h));
        return array(h);
    }
    /* Maps the .npy file `path` (C order) of fixed length; throws MBA_ERR_INVALID_ARGUMENT if
     * it does not hold T. A file in the other byte order opens only with mba::read_only, and
     * its elements are as stored (byte_swapped() says so: swap them yourself). */
    static array open_npy(const std::string &path, std::uint32_t flags = MBA_READ_ONLY) {
        mba_array *h = nullptr;
        detail::check(mba_attach(detail::c_uri("npy://" + path), flags, &h));
        return checked(h, "npy://" + path);
    }
    /* MBA_KIND_ARRAY, MBA_KIND_RAW or MBA_KIND_NPY. */
    std::uint32_t kind() const noexcept { return mba_kind(h_); }
    /* Whether the elements are in the other byte order (a .npy file from the other endianness). */
    bool byte_swapped() const noexcept { return mba_byte_order(h_) == 1; }

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

    /* ----- shape: the first axis grows; rows are row_size() elements ----- */
    std::uint32_t ndim() const noexcept { return mba_ndim(h_); }
    /* {rows now, extents of the other axes...} */
    std::vector<std::uint64_t> shape() const {
        std::vector<std::uint64_t> s(MBA_MAX_DIMS);
        detail::check(mba_shape(h_, s.data()));
        s.resize(ndim());
        return s;
    }
    std::size_t row_size() const noexcept { return static_cast<std::size_t>(mba_row_size(h_)); }
    std::size_t rows() const noexcept { return size() / row_size(); }
    /* A zero-copy view of row i (row_size() elements); throws MBA_ERR_OUT_OF_BOUNDS past rows(). */
    mba::view<T> row(std::size_t i) const {
        std::size_t n = rows();
        if (i >= n)
            throw error(MBA_ERR_OUT_OF_BOUNDS,
                        "row " + std::to_string(i) + " is out of bounds (rows " + std::to_string(n) + ")");
        return mba::view<T>(data() + i * row_size(), row_size());
    }
    /* Appends one whole row of row_size() elements. */
    void push_row(const T *values) { detail::check(mba_extend(h_, values, row_size())); }

    /* ----- memory residency ----- */
    /* Locks the pages of the elements published now into RAM (mlock(2)); throws mba::error with
     * MBA_ERR_PERMISSION, naming RLIMIT_MEMLOCK and its value, when the limit forbids it. */
    void mlock() const { detail::check(mba_mlock(h_)); }
    /* Unlocks every page this handle locked. */
    void munlock() const { detail::check(mba_munlock(h_)); }
    /* Advises the system how the data (present and to come) will be accessed. */
    void madvise(mba::advice a) const { detail::check(mba_madvise(h_, static_cast<std::uint32_t>(a))); }

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

/* ----- Removing and listing arrays ----- */

/* Removes the name uri; attached handles keep working. A file that is not an mba array is
 * refused (MBA_ERR_CORRUPT) unless force. (`delete` is a C++ keyword, hence the name.) */
inline void remove(const std::string &uri, bool force = false) {
    detail::check(force ? mba_delete_ex(detail::c_uri(uri), MBA_FORCE) : mba_delete(detail::c_uri(uri)));
}

/* One array found by mba::list (mba_list_entry with owned strings). */
struct list_entry {
    std::string uri, path, owner;
    /* Empty for a valid array; why its header does not hold up otherwise. */
    std::string problem;
    mba_status status = MBA_OK;
    std::uint32_t dtype = 0, itemsize = 0, ndim = 0;
    /* {rows, extents of the other axes...}; empty for a corrupt array. */
    std::vector<std::uint64_t> shape;
    std::uint64_t len = 0, capacity = 0, max_capacity = 0, size = 0, bytes = 0;
    std::uint32_t uid = 0, mode = 0, typecode = 0, writers = 0;
    std::uint64_t created_ns = 0, mtime_ns = 0, creator_pid = 0, creator_start = 0, dev = 0, ino = 0;
    /* MBA_CREATOR_ALIVE, MBA_CREATOR_DEAD or MBA_CREATOR_UNKNOWN. */
    int creator_alive = MBA_CREATOR_UNKNOWN;
    bool ok() const noexcept { return status == MBA_OK; }
};

/* The arrays in /dev/shm (dir empty) or in the directory dir, sorted by name. Files that are not
 * mba arrays are skipped; corrupt arrays are listed with ok() false. */
inline std::vector<list_entry> list(const std::string &dir = "") {
    mba_list *l = nullptr;
    detail::check(mba_list_open(dir.empty() ? nullptr : dir.c_str(), 0, &l));
    struct guard {
        mba_list *l;
        ~guard() { mba_list_free(l); }
    } g{l};
    std::vector<list_entry> out;
    std::uint64_t n = mba_list_count(l);
    out.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; i++) {
        mba_list_entry e;
        detail::check(mba_list_get(l, i, &e, sizeof e));
        list_entry x;
        x.uri = e.uri;
        x.path = e.path;
        x.owner = e.owner;
        x.problem = e.problem;
        x.status = e.status;
        x.dtype = e.dtype;
        x.itemsize = e.itemsize;
        x.ndim = e.ndim;
        if (e.status == MBA_OK) x.shape.assign(e.shape, e.shape + (e.ndim <= MBA_MAX_DIMS ? e.ndim : 0));
        x.len = e.len;
        x.capacity = e.capacity;
        x.max_capacity = e.max_capacity;
        x.size = e.size;
        x.bytes = e.bytes;
        x.uid = e.uid;
        x.mode = e.mode;
        x.typecode = e.typecode;
        x.writers = e.writers;
        x.created_ns = e.created_ns;
        x.mtime_ns = e.mtime_ns;
        x.creator_pid = e.creator_pid;
        x.creator_start = e.creator_start;
        x.dev = e.dev;
        x.ino = e.ino;
        x.creator_alive = e.creator_alive;
        out.push_back(std::move(x));
    }
    return out;
}

/* ===== Batching appends and waiting for the length (issue 14: mba_claim, mba_commit, mba_wait_len) =====
 *
 *   mba::appender<uint32_t> out(a);        // claims MBA_DEFAULT_BATCH (4096) elements at a time
 *   for (...) out.push_back(x);             // an inline store: no library call per element
 *   out.flush();                            // readers see everything pushed so far
 *
 *   auto r = mba::array<uint32_t>::attach("shm://sensor");
 *   std::uint64_t n = mba::wait_len(r, 1000, std::chrono::seconds(1)); // sleeps; n < 1000: timed out
 */

/* Appends to an array<T> (one-dimensional) through room claimed `batch` elements at a time (default
 * MBA_DEFAULT_BATCH, 4096; choose any batch >= 1 in the constructor). push_back writes into the
 * claimed room with a plain store; a block is committed (published, all at once) as soon as it is
 * full, on flush(), and when the appender is destroyed (which ignores errors: call flush() to see
 * them). Readers never see an element before its block is committed.
 * While a block is open the handle holds the right to append (mba_claim): on a handle without
 * mba::exclusive that is the append lock, so other writers wait for the block; flush() when you
 * pause. Use an appender from one thread at a time; the array must outlive it. Near the array's
 * maximum capacity, blocks shrink to one element, and push_back throws MBA_ERR_NO_SPACE when even
 * that does not fit. */
template <class T> class appender {
  public:
    explicit appender(array<T> &a, std::size_t batch = MBA_DEFAULT_BATCH) : h_(a.handle()), batch_(batch) {
        if (batch == 0) throw error(MBA_ERR_INVALID_ARGUMENT, "mba::appender: batch must be at least 1");
        if (a.row_size() != 1)
            throw error(MBA_ERR_INVALID_ARGUMENT, "mba::appender: the array has rows; claim whole rows instead");
    }
    appender(appender &&o) noexcept
        : h_(o.h_), batch_(o.batch_), begin_(std::exchange(o.begin_, nullptr)), pos_(std::exchange(o.pos_, nullptr)),
          end_(std::exchange(o.end_, nullptr)) {}
    appender(const appender &) = delete;
    appender &operator=(const appender &) = delete;
    appender &operator=(appender &&) = delete;
    ~appender() {
        if (begin_) mba_commit(h_, static_cast<std::uint64_t>(pos_ - begin_));
    }

    void push_back(const T &v) {
        if (pos_ == end_) next_block();
        *pos_++ = v;
        if (pos_ == end_) flush(); /* a full block is published at once */
    }
    /* Commits what was pushed: readers see it; other writers may go on. */
    void flush() {
        if (!begin_) return;
        auto n = static_cast<std::uint64_t>(pos_ - begin_);
        begin_ = pos_ = end_ = nullptr;
        detail::check(mba_commit(h_, n));
    }
    /* Elements pushed and not yet committed. */
    std::size_t pending() const noexcept { return static_cast<std::size_t>(pos_ - begin_); }
    std::size_t batch() const noexcept { return batch_; }

  private:
    void next_block() {
        void *p = nullptr;
        std::size_t n = batch_;
        mba_status s = mba_claim(h_, n, &p);
        if (s == MBA_ERR_NO_SPACE && n > 1) s = mba_claim(h_, n = 1, &p);
        detail::check(s);
        begin_ = pos_ = static_cast<T *>(p);
        end_ = begin_ + n;
    }

    mba_array *h_;
    std::size_t batch_;
    T *begin_ = nullptr, *pos_ = nullptr, *end_ = nullptr;
};

/* Waits until a.size() >= n or `timeout` passes (rounded up to milliseconds), sleeping in the kernel;
 * returns the length then: at least n unless the time ran out. Appenders in any process wake it. A
 * handle attached read-write is woken at once; a read-only one looks again after an eighth of the time
 * it has waited, 10 ms at most. */
template <class T, class Rep, class Period>
std::uint64_t wait_len(const array<T> &a, std::uint64_t n, std::chrono::duration<Rep, Period> timeout) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
    std::uint64_t out = 0;
    detail::check(mba_wait_len(a.handle(), n, ms < 0 ? 0 : static_cast<std::uint64_t>(ms), &out));
    return out;
}
/* The same without a time limit. */
template <class T> std::uint64_t wait_len(const array<T> &a, std::uint64_t n) {
    std::uint64_t out = 0;
    detail::check(mba_wait_len(a.handle(), n, MBA_WAIT_FOREVER, &out));
    return out;
}
/* ===== end of batching appends and waiting for the length ===== */

} // namespace mba

#endif /* MBA_HPP */
