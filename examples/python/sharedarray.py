import numpy as np
import mba as sa                     # instead of: import SharedArray as sa
a = sa.create("shm://test", (1000, 3), dtype=np.float32)
b = sa.attach("test", ro=True)        # the same memory, shape (1000, 3)
a[0] = [1, 2, 3]
assert b[0].tolist() == [1.0, 2.0, 3.0]
a.base.mlock()
sa.delete("test")                     # a and b keep working
