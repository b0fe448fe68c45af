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
    close(r); close(a)
    Mba.delete(uri)
end
