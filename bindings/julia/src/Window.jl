# The windowed reader of mba.h (mba_window_*): many files, larger than memory, read through
# windows mapped under budgets that hold at every moment. Included by Mba.jl.
#
#     m = Mba.WindowManager(window_size = 1 << 20, max_mapped_bytes = 64 << 20, max_open_files = 16)
#     c = Mba.open_window(m, Float64, "data.f64")          # raw file of Float64
#     v = Mba.read_window(c, 1, 500)                        # elements 1..500 (1-based), a copy
#     w = Mba.pin_window(c, 1)                              # zero-copy Vector over the window
#     close(c); close(m)

export WindowManager, WindowCursor, open_window, read_window, pin_window

const WINDOW_MAPPED_READS = UInt32(1)
const WINDOW_KINDS = Dict(:auto => UInt32(0), :raw => UInt32(1), :npy => UInt32(2), :mba => UInt32(3))
const WINDOW_DTYPES = merge(DTYPES, Dict{DataType,UInt32}(Bool => 11, Float16 => 12, ComplexF32 => 13,
                                                          ComplexF64 => 14))

# Mirrors mba_window_config (struct_size, flags, then four uint64 budgets).
mutable struct WindowConfig
    struct_size::UInt32
    flags::UInt32
    window_size::UInt64
    max_mapped_bytes::UInt64
    max_open_files::UInt64
    max_windows::UInt64
end

# Mirrors mba_window_view.
struct WindowView
    data::Ptr{Cvoid}
    count::UInt64
    window_id::UInt64
    window_offset::UInt64
    window_len::UInt64
    window_valid::UInt64
end

"Maps windows of files under budgets. Close it with `close`. Safe to share between threads."
mutable struct WindowManager
    handle::Ptr{Cvoid}
    function WindowManager(; window_size::Integer = -1, max_mapped_bytes::Integer = 0,
                           max_open_files::Integer = 0, max_windows::Integer = 0, mapped_reads::Bool = false)
        cfg = WindowConfig(0, 0, 0, 0, 0, 0)
        ccall((:mba_window_config_init, libmba), Cvoid, (Ref{WindowConfig},), cfg)
        window_size >= 0 && (cfg.window_size = window_size)     # -1: the default; 0: whole files
        max_mapped_bytes > 0 && (cfg.max_mapped_bytes = max_mapped_bytes)
        max_open_files > 0 && (cfg.max_open_files = max_open_files)
        cfg.max_windows = max_windows
        cfg.flags = mapped_reads ? WINDOW_MAPPED_READS : 0x0
        out = Ref{Ptr{Cvoid}}(C_NULL)
        check(ccall((:mba_window_manager_new, libmba), Int32, (Ref{WindowConfig}, Ref{Ptr{Cvoid}}), cfg, out))
        m = new(out[])
        finalizer(close, m)
        return m
    end
end

"Releases every window and descriptor now and frees the manager (cursors then fail)."
function Base.close(m::WindowManager)
    if m.handle != C_NULL
        ccall((:mba_window_manager_close, libmba), Int32, (Ptr{Cvoid},), m.handle)  # BUSY: pins go with their cursors
        ccall((:mba_window_manager_free, libmba), Int32, (Ptr{Cvoid},), m.handle)
        m.handle = C_NULL
    end
    return nothing
end

"A reader of one file of T. One task at a time per cursor; a pinned Vector keeps its cursor alive, but `close` while it is in use leaves it dangling."
mutable struct WindowCursor{T}
    handle::Ptr{Cvoid}
    manager::WindowManager   # keeps the Julia manager object alive as long as its cursors
    function WindowCursor{T}(h::Ptr{Cvoid}, m::WindowManager) where {T}
        c = new{T}(h, m)
        finalizer(close, c)
        return c
    end
end

function Base.close(c::WindowCursor)
    if c.handle != C_NULL
        ccall((:mba_window_cursor_free, libmba), Int32, (Ptr{Cvoid},), c.handle)
        c.handle = C_NULL
    end
    return nothing
end

"""
    open_window(m, T, path; kind = :raw, offset = 0) -> WindowCursor{T}

A cursor over `path`: raw elements of `T` from byte `offset`, or a `.npy` or mba file
(`kind = :npy`, `:mba` or `:auto`) that must hold `T`.
"""
function open_window(m::WindowManager, ::Type{T}, path::AbstractString; kind::Symbol = :raw,
                     offset::Integer = 0) where {T}
    haskey(WINDOW_DTYPES, T) || throw(ArgumentError("mba has no element type for $T"))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:mba_window_open, libmba), Int32, (Ptr{Cvoid}, Cstring, UInt32, UInt32, UInt64, Ref{Ptr{Cvoid}}),
                m.handle, path, WINDOW_KINDS[kind], WINDOW_DTYPES[T], offset, out))
    return WindowCursor{T}(out[], m)
end

"Elements visible now (the size and header are re-read: growth is seen)."
function Base.length(c::WindowCursor)
    n = Ref{UInt64}(0)
    check(ccall((:mba_window_refresh, libmba), Int32, (Ptr{Cvoid}, Ref{UInt64}), c.handle, n))
    return Int(n[])
end

"""
    read_window(c, first, count) -> Vector{T}

A copy of elements `first .. first+count-1` (1-based), across windows, in this machine's byte
order. Never SIGBUS unless the manager has `mapped_reads`: truncation or deletion of the file
under the cursor throws an `MbaError`.
"""
function read_window(c::WindowCursor{T}, first::Integer, count::Integer) where {T}
    out = Vector{T}(undef, count)
    GC.@preserve out check(ccall((:mba_window_read, libmba), Int32, (Ptr{Cvoid}, UInt64, UInt64, Ptr{Cvoid}),
                                 c.handle, first - 1, count, pointer(out)))
    return out
end

"""
    pin_window(c, first, count = 0) -> Vector{T}

The window holding element `first` (1-based), as a `Vector{T}` over the mapping itself (no
copy), of at most `count` elements (0: as many as the window holds). Valid until the cursor's
next pin, unpin or close (reads leave it in place); the file's byte order. The Vector keeps the
cursor alive, so the garbage collector does not unpin it under the Vector.
"""
function pin_window(c::WindowCursor{T}, first::Integer, count::Integer = 0) where {T}
    v = Ref{WindowView}()
    check(ccall((:mba_window_pin, libmba), Int32, (Ptr{Cvoid}, UInt64, UInt64, Ref{WindowView}),
                c.handle, first - 1, count, v))
    w = unsafe_wrap(Array, Ptr{T}(v[].data), Int(v[].count); own = false)
    finalizer(KeepAlive(c), w)   # the cursor, and so its pin, lives as long as the Vector
    return w
end
