# Listing arrays and memory residency (mba_list_*, mba_mlock, mba_munlock, mba_madvise).
# Included by Mba.jl. Checked by review: Julia is not installable on mba's build machines.

"One array found by `Mba.list`: `problem` is empty and `status` 0 for a valid array."
struct ListEntry
    uri::String
    path::String
    owner::String
    problem::String
    status::Int32
    dtype::UInt32
    itemsize::UInt32
    ndim::UInt32
    shape::Vector{UInt64}          # [rows, extents of the other axes...]; empty when corrupt
    len::UInt64
    capacity::UInt64
    max_capacity::UInt64
    size::UInt64
    bytes::UInt64
    uid::UInt32
    mode::UInt32
    typecode::UInt32
    writers::UInt32
    created_ns::UInt64
    mtime_ns::UInt64
    creator_pid::UInt64
    creator_start::UInt64
    creator_alive::Union{Bool,Nothing}   # nothing: cannot be told
    dev::UInt64
    ino::UInt64
end

# mba_list_entry of mba.h, field for field (same order, same widths, so the same layout).
struct CListEntry
    uri::Cstring
    path::Cstring
    owner::Cstring
    problem::Cstring
    status::Int32
    dtype::UInt32
    itemsize::UInt32
    ndim::UInt32
    shape::NTuple{8,UInt64}
    len::UInt64
    capacity::UInt64
    size::UInt64
    bytes::UInt64
    uid::UInt32
    mode::UInt32
    created_ns::UInt64
    mtime_ns::UInt64
    creator_pid::UInt64
    creator_start::UInt64
    creator_alive::Int32
    typecode::UInt32
    dev::UInt64
    ino::UInt64
    max_capacity::UInt64
    writers::UInt32
    reserved::UInt32
end

"""
    list([dir]) -> Vector{ListEntry}

The arrays in /dev/shm, or in the directory `dir` (as file:// arrays), sorted by name. Files that
are not mba arrays are skipped; corrupt ones are listed with `status != 0` and a `problem`.
"""
function list(dir::Union{AbstractString,Nothing} = nothing)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    if dir === nothing
        check(ccall((:mba_list_open, libmba), Int32, (Ptr{UInt8}, UInt32, Ref{Ptr{Cvoid}}), C_NULL, 0, out))
    else
        check(ccall((:mba_list_open, libmba), Int32, (Cstring, UInt32, Ref{Ptr{Cvoid}}), dir, 0, out))
    end
    l = out[]
    try
        n = ccall((:mba_list_count, libmba), UInt64, (Ptr{Cvoid},), l)
        entries = ListEntry[]
        for i in UInt64(0):n-1
            e = Ref{CListEntry}()
            check(ccall((:mba_list_get, libmba), Int32, (Ptr{Cvoid}, UInt64, Ref{CListEntry}, Csize_t),
                        l, i, e, sizeof(CListEntry)))
            c = e[]
            shape = c.status == 0 ? UInt64[c.shape[k] for k in 1:min(Int(c.ndim), 8)] : UInt64[]
            alive = c.creator_alive == 1 ? true : c.creator_alive == 0 ? false : nothing
            push!(entries, ListEntry(unsafe_string(c.uri), unsafe_string(c.path), unsafe_string(c.owner),
                                     unsafe_string(c.problem), c.status, c.dtype, c.itemsize, c.ndim, shape,
                                     c.len, c.capacity, c.max_capacity, c.size, c.bytes, c.uid, c.mode,
                                     c.typecode, c.writers, c.created_ns, c.mtime_ns, c.creator_pid,
                                     c.creator_start, alive, c.dev, c.ino))
        end
        return entries
    finally
        ccall((:mba_list_free, libmba), Int32, (Ptr{Cvoid},), l)
    end
end

"Locks the pages of the elements published now into RAM; an RLIMIT_MEMLOCK refusal names the limit."
mlock(a::MbaArray) = check(ccall((:mba_mlock, libmba), Int32, (Ptr{Cvoid},), a.handle))

"Unlocks every page this handle locked."
munlock(a::MbaArray) = check(ccall((:mba_munlock, libmba), Int32, (Ptr{Cvoid},), a.handle))

const ADVICE = Dict(:normal => UInt32(0), :sequential => UInt32(1), :random => UInt32(2),
                    :willneed => UInt32(3), :dontneed => UInt32(4), :hugepage => UInt32(5))

"""
    madvise(a, advice)

Tells the system how the data, present and to come, will be accessed: `:normal`, `:sequential`,
`:random`, `:willneed`, `:dontneed` or `:hugepage`.
"""
function madvise(a::MbaArray, advice::Symbol)
    haskey(ADVICE, advice) || throw(ArgumentError("unknown advice $advice; one of $(join(keys(ADVICE), ", "))"))
    check(ccall((:mba_madvise, libmba), Int32, (Ptr{Cvoid}, UInt32), a.handle, ADVICE[advice]))
end
