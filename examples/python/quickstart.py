"""quickstart.py: mba.array, an array.array in shared memory that other processes attach by name."""
import mba

a = mba.array("I", range(1000), uri="shm://sensor")  # typecode "I": uint32
a.append(1000)
b = mba.array.attach("shm://sensor", readonly=True)  # as another process would
view = b.memoryview()  # zero copy; so is b.numpy() when numpy is installed
print(f"len={len(view)} last={view[-1]} sum={sum(view)}")
view.release()
b.close()
a.close()
mba.delete("shm://sensor")  # the name outlives the process until deleted
