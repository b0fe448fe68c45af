# Run where Julia exists: MBA_LIBRARY=/path/to/libmba.so julia --project=bindings/julia bindings/julia/test/runtests.jl
using Test
include(joinpath(@__DIR__, "..", "src", "Mba.jl"))
using .Mba

@testset "Mba" begin
    uri = "shm://mba-julia-test-$(getpid())"
    a = Mba.create(UInt32, uri; capacity = 4, overwrite = true)
    r = Mba.attach(UInt32, uri; readonly = true)
    first = Mba.view(r)
    for i in 1:100_000
        push!(a, i)
    end
    append!(a, UInt32[7, 8])
    v = Mba.view(r)
    @test length(v) == 100_002 && v[100_000] == 100_000 && v[end] == 8
    @test pointer(first) == pointer(v)            # the data never moved
    @test r[1] == 1
    a[1] = 42
    @test v[1] == 42                               # zero copy
    @test pop!(a) == 8
    @test_throws MbaError push!(r, 1)              # read-only
    @test_throws MbaError Mba.attach(Float64, uri) # dtype checked
    err = try
        Mba.attach(UInt32, "shm://mba-julia-missing")
    catch e
        e
    end
    @test err isa MbaError && occursin("mba-julia-missing", err.message)
    # A view keeps its array alive: the handle of attach(...) is unreachable at once, and a
    # collection would otherwise free it (and unmap the memory) under the view.
    w = Mba.view(Mba.attach(UInt32, uri; readonly = true))
    GC.gc(); GC.gc()
    @test w[1] == 42 && w[100_000] == 100_000
    close(r); close(a)
    Mba.delete(uri)
end

@testset "list, mlock, madvise" begin
    dir = mktempdir()
    a = Mba.create(Float32, "file://$dir/good")
    append!(a, Float32[1, 2, 3])
    write(joinpath(dir, "notes.txt"), "not an array")
    l = Mba.list(dir)
    @test length(l) == 1
    e = l[1]
    @test e.uri == "file://$dir/good" && e.status == 0 && e.dtype == 9 && e.len == 3 && e.shape == UInt64[3]
    @test e.creator_alive === true && e.creator_pid == getpid() && !isempty(e.owner)
    Mba.mlock(a)
    Mba.munlock(a)
    for adv in (:normal, :sequential, :random, :willneed, :dontneed)
        Mba.madvise(a, adv)
    end
    @test_throws ArgumentError Mba.madvise(a, :later)
    @test a[3] == 3
    close(a)
    Mba.delete("file://$dir/good")
    @test isempty(Mba.list(dir))
end

@testset "windowed reader" begin
    dir = mktempdir()
    path = joinpath(dir, "d.f64")
    data = collect(1.0:100_000.0)
    write(path, data)
    m = Mba.WindowManager(window_size = 4096, max_mapped_bytes = 4 * 4096, max_open_files = 1)
    c = Mba.open_window(m, Float64, path)
    @test length(c) == 100_000
    @test Mba.read_window(c, 1, 100_000) == data           # far more than the budget
    @test Mba.read_window(c, 777, 3) == data[777:779]
    w = Mba.pin_window(c, 1000, 10)
    @test 1 <= length(w) <= 10 && w[1] == 1000.0
    @test_throws MbaError Mba.read_window(c, 100_000, 2)
    @test_throws MbaError Mba.open_window(m, Float32, joinpath(dir, "missing"))
    close(c); close(m)
end

@testset "raw files" begin
    dir = mktempdir()
    path = joinpath(dir, "d.i32")
    data = Int32.(1:1000) .* Int32(7)
    write(path, data)
    @test sizeof(Mba.Options) == 128                       # mba_options in include/mba.h
    a = Mba.open_raw(Int32, path)
    @test length(a) == 1000 && a[1] == 7 && Mba.view(a) == data
    @test_throws MbaError push!(a, 1)                      # a raw file's length is fixed
    r = Mba.open_raw(Int32, path; offset = 40, length = 4 * 12, rows = (3,))
    @test length(r) == 12 && r[1] == data[11]
    @test_throws MbaError Mba.open_raw(Int32, path; length = 4 * 13, rows = (3,))
    @test length(Mba.open_raw(Int32, path; length = 4 * 13, rows = (3,), round_down = true)) == 12
    w = Mba.open_raw(Int32, path; readonly = false)
    w[2] = -1
    @test a[2] == -1
    close(a); close(r); close(w)
end

@testset "new element types, shapes, splice" begin
    uri = "shm://mba-jltest-$(getpid())-shaped"
    a = Mba.create_shaped(Float32, uri, (2, 3); max_capacity = 60, overwrite = true)
    append!(a, Float32.(1:6))
    @test Mba.shape(a) == (1, 2, 3)
    @test size(Mba.rows(a)) == (3, 2, 1)
    @test_throws MbaError append!(a, Float32[1, 2])          # not a whole row
    @test Mba.splice!(a, 1, 6, Float32.(11:16)) == Float32.(1:6)
    @test_throws MbaError append!(a, zeros(Float32, 60))       # past the maximum capacity
    close(a)
    Mba.delete(uri)
    c = Mba.create(ComplexF64, uri; overwrite = true)
    push!(c, 1.0 + 2.0im)
    @test c[1] == 1.0 + 2.0im
    close(c)
    Mba.delete(uri)
    @test_throws ArgumentError Mba.attach(Int32, "shm://a\0b")
end
