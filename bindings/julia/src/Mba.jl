"""
    Mba

Typed, growable arrays in shared memory, shared with zero copies, over the C library libmba
through `ccall`. The library is `ENV["MBA_LIBRARY"]` if set, else `libmba` on the system path.

    a = Mba.create(UInt32, "shm://sensor"; capacity = 4)
    push!(a, 7)
    v = Mba.view(Mba.attach(UInt32, "shm://sensor"; readonly = true))   # Vector{UInt32}, no copy
"""
module Mba

export MbaArray, MbaError, create, attach, view, delete, open_raw, open_npy

const libmba = get(ENV, "MBA_LIBRARY", "libmba")

const READ_ONLY = UInt32(1)
const EXCLUSIVE = UInt32(2)
const OVERWRITE = UInt32(4)

"An element of a bool array (MBA_BOOL): the stored byte, since a peer may write any value."
struct MbaBool
    x::UInt8
end
Base.Bool(b::MbaBool) = b.x != 0

# Float16, ComplexF32 and ComplexF64 have numpy's layout (binary16; real then imaginary).
const DTYPES = Dict{DataType,UInt32}(Int8 => 1, UInt8 => 2, Int16 => 3, UInt16 => 4, Int32 => 5,
                                     UInt32 => 6, Int64 => 7, UInt64 => 8, Float32 => 9, Float64 => 10,
                                     MbaBool => 11, Float16 => 12, ComplexF32 => 13, ComplexF64 => 14)

"A failed mba call: the status code and the library's message."
struct MbaError <: Exception
    status::Int32
    message::String
end
Base.showerror(io::IO, e::MbaError) = print(io, "MbaError(", e.status, "): ", e.message)

# Julia tasks do not move between OS threads inside one ccall, and the message is read right
# after the failing call on the same task, before any yield point.
function check(status::Int32)
    status == 0 && return nothing
    msg = unsafe_string(ccall((:mba_last_error, libmba), Cstring, ()))
    throw(MbaError(status, msg))
end

"""
A handle on an mba array of T, freed by `close` or, once unreachable, by the garbage collector.
A view (`view`) keeps its array alive; `close` while views exist leaves them dangling.

Threads: mba.h's rules. Reads from any task or thread. `push!`, `append!`, `pop!` and the other
length-changing calls from several threads only on an array made without `exclusive` (an
exclusive array takes no lock: one task at a time). `close` while other tasks still use the
array is the caller's to prevent.
"""
mutable struct MbaArray{T}
    handle::Ptr{Cvoid}
    function MbaArray{T}(h::Ptr{Cvoid}) where {T}
        a = new{T}(h)
        finalizer(close, a)
        return a
    end
end

# Registered as the finalizer of a Vector that `unsafe_wrap` made over memory `parent` owns:
# the finalizer, and so `parent`, stays reachable as long as the Vector is (unsafe_wrap itself
# keeps no reference: the array of `view(attach(...))` would be collected, and its mapping
# unmapped, under the view).
struct KeepAlive
    parent::Any
end
(::KeepAlive)(_) = nothing

# The dtype codes' names, as numpy spells them; index = code.
const DTYPE_NAMES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                     "float32", "float64", "bool", "float16", "complex64", "complex128")
dtype_name(code::Integer) = 1 <= code <= length(DTYPE_NAMES) ? DTYPE_NAMES[code] : "dtype $code"

function dtype_of(::Type{T}) where {T}
    haskey(DTYPES, T) || throw(ArgumentError("mba has no element type for $T"))
    return DTYPES[T]
end

function create(::Type{T}, uri::AbstractString; capacity::Integer = 0, exclusive::Bool = false,
                overwrite::Bool = false) where {T}
    out = Ref{Ptr{Cvoid}}(C_NULL)
    flags = (exclusive ? EXCLUSIVE : 0x0) | (overwrite ? OVERWRITE : 0x0)
    check(ccall((:mba_create, libmba), Int32, (Cstring, UInt32, UInt64, UInt32, Ref{Ptr{Cvoid}}),
                uri, dtype_of(T), capacity, flags, out))
    return MbaArray{T}(out[])
end

function attach(::Type{T}, uri::AbstractString; readonly::Bool = false, exclusive::Bool = false) where {T}
    out = Ref{Ptr{Cvoid}}(C_NULL)
    flags = (readonly ? READ_ONLY : 0x0) | (exclusive ? EXCLUSIVE : 0x0)
    check(ccall((:mba_attach, libmba), Int32, (Cstring, UInt32, Ref{Ptr{Cvoid}}), uri, flags, out))
    a = MbaArray{T}(out[])
    got = ccall((:mba_dtype, libmba), UInt32, (Ptr{Cvoid},), a.handle)
    got == dtype_of(T) || (close(a); throw(MbaError(-1, "$uri holds $(dtype_name(got)) elements, not the $(dtype_name(dtype_of(T))) of $T")))
    return a
end

function Base.close(a::MbaArray)
    if a.handle != C_NULL
        ccall((:mba_free, libmba), Int32, (Ptr{Cvoid},), a.handle)
        a.handle = C_NULL
    end
    return nothing
end

Base.length(a::MbaArray) = Int(ccall((:mba_len, libmba), UInt64, (Ptr{Cvoid},), a.handle))

function Base.push!(a::MbaArray{T}, v) where {T}
    x = Ref{T}(convert(T, v))
    check(ccall((:mba_append, libmba), Int32, (Ptr{Cvoid}, Ptr{T}), a.handle, x))
    return a
end

function Base.append!(a::MbaArray{T}, vs::AbstractVector) where {T}
    buf = convert(Vector{T}, vs)
    check(ccall((:mba_extend, libmba), Int32, (Ptr{Cvoid}, Ptr{T}, UInt64), a.handle, buf, length(buf)))
    return a
end

function Base.getindex(a::MbaArray{T}, i::Integer) where {T}
    x = Ref{T}()
    check(ccall((:mba_get, libmba), Int32, (Ptr{Cvoid}, UInt64, Ptr{T}), a.handle, i - 1, x))
    return x[]
end

function Base.setindex!(a::MbaArray{T}, v, i::Integer) where {T}
    x = Ref{T}(convert(T, v))
    check(ccall((:mba_set, libmba), Int32, (Ptr{Cvoid}, UInt64, Ptr{T}), a.handle, i - 1, x))
    return v
end

function Base.pop!(a::MbaArray{T}) where {T}
    x = Ref{T}()
    check(ccall((:mba_pop, libmba), Int32, (Ptr{Cvoid}, Ptr{T}), a.handle, x))
    return x[]
end

"""
    view(a) -> Vector{T}

The elements published now, as a `Vector{T}` over the shared memory itself (`unsafe_wrap`, no
copy). Its address never changes while `a` is open; later appends need a new view. The view
keeps `a` alive (`view(attach(...))` is safe); `close(a)` while it is in use is not.
"""
function view(a::MbaArray{T}) where {T}
    p = Ptr{T}(ccall((:mba_data, libmba), Ptr{Cvoid}, (Ptr{Cvoid},), a.handle))
    v = unsafe_wrap(Array, p, length(a); own = false)
    finalizer(KeepAlive(a), v)
    return v
end

# Mirrors mba_options (include/mba.h): filled by mba_options_init, then rebuilt with the fields
# open_raw sets (the struct is immutable here, and passed by reference).
struct Options
    struct_size::UInt32
    flags::UInt32
    dtype::UInt32
    mode::UInt32
    capacity::UInt64
    max_capacity::UInt64
    ndim::UInt32
    typecode::UInt32
    shape::NTuple{8,UInt64}
    timeout_ms::UInt64
    offset::UInt64
    length::UInt64
end

const ROUND_DOWN = UInt32(32)

"""
    open_raw(T, path; offset = 0, length = 0, readonly = true, round_down = false, rows = ())

The headerless file `path` (or its bytes `offset .. offset + length`, 0 meaning to the end) as an
`MbaArray{T}` of fixed length, rows of `rows` extents after the first axis: `push!`, `append!`
and `pop!` throw `MbaError` (`MBA_ERR_INVALID_ARGUMENT`). A length that is not a whole number of
rows throws unless `round_down`.
"""
function open_raw(::Type{T}, path::AbstractString; offset::Integer = 0, length::Integer = 0,
                  readonly::Bool = true, round_down::Bool = false, rows = ()) where {T}
    Base.length(rows) < 8 || throw(ArgumentError("at most 7 extents after the first axis"))
    init = Ref{Options}()
    ccall((:mba_options_init, libmba), Cvoid, (Ref{Options},), init)
    o = init[]
    shape = ntuple(i -> (2 <= i <= Base.length(rows) + 1) ? UInt64(rows[i - 1]) : UInt64(0), 8)
    flags = (readonly ? READ_ONLY : 0x0) | (round_down ? ROUND_DOWN : 0x0)
    opts = Ref(Options(o.struct_size, flags, dtype_of(T), o.mode, o.capacity, o.max_capacity,
                       UInt32(Base.length(rows) + 1), o.typecode, shape, o.timeout_ms, UInt64(offset),
                       UInt64(length)))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:mba_attach_ex, libmba), Int32, (Cstring, Ref{Options}, Ref{Ptr{Cvoid}}),
                "raw://" * path, opts, out))
    return MbaArray{T}(out[])
end

"""
    open_npy(T, path; readonly = true)

The `.npy` file `path` (C order, holding `T`) as an `MbaArray{T}` of fixed length. A file in
the other byte order opens only read-only, and its elements are as stored.
"""
open_npy(::Type{T}, path::AbstractString; readonly::Bool = true) where {T} =
    attach(T, "npy://" * path; readonly = readonly)

"Removes the name `uri`; attached arrays keep working."
delete(uri::AbstractString) = check(ccall((:mba_delete, libmba), Int32, (Cstring,), uri))
# (A NUL inside `uri` never reaches the library: Julia's Cstring conversion throws ArgumentError.)

"""
    create_shaped(T, uri, rows; max_capacity = 0, capacity = 0, overwrite = false)

A new array whose elements come in rows of extents `rows` (C order, the axes after the growing
one): `append!` takes whole rows. `max_capacity` (elements, 0 for the default) bounds its growth
in every process.
"""
function create_shaped(::Type{T}, uri::AbstractString, rows; max_capacity::Integer = 0,
                       capacity::Integer = 0, overwrite::Bool = false) where {T}
    Base.length(rows) < 8 || throw(ArgumentError("at most 7 extents after the first axis"))
    init = Ref{Options}()
    ccall((:mba_options_init, libmba), Cvoid, (Ref{Options},), init)
    o = init[]
    shape = ntuple(i -> (2 <= i <= Base.length(rows) + 1) ? UInt64(rows[i - 1]) : UInt64(0), 8)
    opts = Ref(Options(o.struct_size, overwrite ? OVERWRITE : 0x0, dtype_of(T), o.mode, UInt64(capacity),
                       UInt64(max_capacity), UInt32(Base.length(rows) + 1), o.typecode, shape, o.timeout_ms,
                       o.offset, o.length))
    out = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:mba_create_ex, libmba), Int32, (Cstring, Ref{Options}, Ref{Ptr{Cvoid}}), uri, opts, out))
    return MbaArray{T}(out[])
end

"The shape now, in C order: the number of rows, then the fixed extents."
function shape(a::MbaArray)
    n = Int(ccall((:mba_ndim, libmba), UInt32, (Ptr{Cvoid},), a.handle))
    s = zeros(UInt64, 8)
    check(ccall((:mba_shape, libmba), Int32, (Ptr{Cvoid}, Ptr{UInt64}), a.handle, s))
    return Tuple(Int.(s[1:n]))
end

"""
    rows(a) -> Array{T}

The elements published now as a zero-copy Julia array of the reversed shape (Julia is
column-major): for an mba shape `(r, k)` a `k × r` matrix whose column `j` is row `j`.
"""
function rows(a::MbaArray{T}) where {T}
    s = shape(a)
    return reshape(view(a), reverse(s)...)
end

"""
    splice!(a, i, n, vs) -> Vector{T}

Replaces the `n` elements from index `i` (1-based) with `vs` in one step under the append lock,
and returns the removed elements; a failure leaves `a` as it was.
"""
function splice!(a::MbaArray{T}, i::Integer, n::Integer, vs::AbstractVector = T[]) where {T}
    buf = convert(Vector{T}, vs)
    removed = Vector{T}(undef, n)
    check(ccall((:mba_splice, libmba), Int32, (Ptr{Cvoid}, UInt64, UInt64, Ptr{Cvoid}, Ptr{T}, Ptr{T}, UInt64),
                a.handle, i - 1, n, C_NULL, removed, buf, Base.length(buf)))
    return removed
end

"Bounds every lock wait of this handle, in milliseconds (0: the default, 10 s)."
set_timeout(a::MbaArray, ms::Integer) =
    check(ccall((:mba_set_timeout, libmba), Int32, (Ptr{Cvoid}, UInt64), a.handle, ms))

include("list.jl")
include("Window.jl")

end # module
