"""
    Mba

Typed, growable arrays in shared memory, shared with zero copies, over the C library libmba
through `ccall`. The library is `ENV["MBA_LIBRARY"]` if set, else `libmba` on the system path.

    a = Mba.create(UInt32, "shm://sensor"; capacity = 4)
    push!(a, 7)
    v = Mba.view(Mba.attach(UInt32, "shm://sensor"; readonly = true))   # Vector{UInt32}, no copy
"""
module Mba

export MbaArray, MbaError, create, attach, view, delete

const libmba = get(ENV, "MBA_LIBRARY", "libmba")

const READ_ONLY = UInt32(1)
const EXCLUSIVE = UInt32(2)
const OVERWRITE = UInt32(4)

const DTYPES = Dict{DataType,UInt32}(Int8 => 1, UInt8 => 2, Int16 => 3, UInt16 => 4, Int32 => 5,
                                     UInt32 => 6, Int64 => 7, UInt64 => 8, Float32 => 9, Float64 => 10)

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

"A handle on an mba array of T. Close it with `close`; views must not outlive it."
mutable struct MbaArray{T}
    handle::Ptr{Cvoid}
    function MbaArray{T}(h::Ptr{Cvoid}) where {T}
        a = new{T}(h)
        finalizer(close, a)   # views hold a reference to `a`, so it is not finalized under them
        return a
    end
end

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
    got == dtype_of(T) || (close(a); throw(MbaError(-1, "$uri holds dtype $got, not $T")))
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
copy). Its address never changes while `a` is open; later appends need a new view.
"""
function view(a::MbaArray{T}) where {T}
    p = Ptr{T}(ccall((:mba_data, libmba), Ptr{Cvoid}, (Ptr{Cvoid},), a.handle))
    return unsafe_wrap(Array, p, length(a); own = false)
end

"Removes the name `uri`; attached arrays keep working."
delete(uri::AbstractString) = check(ccall((:mba_delete, libmba), Int32, (Cstring,), uri))

include("list.jl")
include("Window.jl")

end # module
