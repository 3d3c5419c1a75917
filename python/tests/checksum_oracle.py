"""The tensordiff checksum (docs/design.md §4) in a few lines of numpy: an independent
definition that the tests hold the engine's (tensordiff.checksum) to; docs/checksum.py links here.

Over the tensor's stored bytes in little-endian order, zero-padded to a multiple of 8 and read
as 64-bit words w_0 ... w_{W-1}:  h = sum_j mix(w_j + phi*(j+1)) mod 2^64,
checksum = mix(h ^ byte_count), mix = the splitmix64 finalizer. Each term is independent, so
lanes, chunks, GPU threads and MPI ranks can add their parts in any order.
"""
import numpy as np

PHI = np.uint64(0x9E3779B97F4A7C15)


def mix(x):
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def checksum(a: np.ndarray) -> str:
    le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype)
    raw = le.tobytes()
    n = len(raw)
    words = np.frombuffer(raw + b"\0" * (-n % 8), dtype="<u8")
    j = np.arange(1, len(words) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = np.sum(mix(words + PHI * j), dtype=np.uint64)  # wraps mod 2^64
    return f"{int(mix(h ^ np.uint64(n))):016x}"
