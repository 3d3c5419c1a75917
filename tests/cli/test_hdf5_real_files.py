"""Issue 20, item 10 ("Real files"): what HDF5's own test files showed the HDF5 reader getting
wrong, each case rebuilt here from h5py (no third-party file is kept). Every file libhdf5 reads
gives its values, or one clear 'unsupported: <what>' line per tensor, never an internal message.
scripts/hdf5_corpus.py runs the same check over a folder of real files (HDF5's test corpus)."""
import os
import subprocess

import h5py
import numpy as np
import pytest

BIN = os.environ.get("TENSORDIFF_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tensordiff"))


def run(*args, timeout=60):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def lines(text):
    return [l for l in text.splitlines() if l.strip()]


def reference(path, arrays):
    """The same values, written the plainest way (contiguous, no user block, one file)."""
    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            f[name] = a
    return path


def test_shapes_beyond_2_60_and_unopenable_datasets_are_named_per_tensor(tmp_path):
    """HDF5's tlayouto.h5 (a dataset of 8589934592 x 268435457) and th5s.h5 (a rank over 32)
    were refused whole: 'the HDF5 helper sent a bad listing (count is not the shape's product)'."""
    p = tmp_path / "odd.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("huge", shape=(2**33, 2**28 + 1), dtype="i4", chunks=(1, 1024))
        f["fine"] = np.arange(6.0)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        ds = h5py.h5d.create(f.id, b"rank", h5py.h5t.IEEE_F64LE, h5py.h5s.create_simple((7,)), dcpl=dcpl)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(7.0))
    # The dataspace message of 'rank' (version 1, rank 1, max dims present, 7 elements): claim
    # rank 40, above HDF5's 32, as th5s.h5 does. libhdf5 then cannot open that dataset.
    data = p.read_bytes()
    space = bytes([1, 1, 1, 0, 0, 0, 0, 0]) + (7).to_bytes(8, "little") * 2
    assert data.count(space) == 1
    p.write_bytes(data.replace(space, bytes([1, 40, 1, 0, 0, 0, 0, 0]) + (7).to_bytes(8, "little") * 2))
    r = run("stats", p)
    assert "bad listing" not in r.stderr and "internal" not in r.stderr.lower(), r.stderr
    assert r.returncode == 2, r.stderr
    err = lines(r.stderr)
    assert len(err) == 2, r.stderr  # one line per tensor that cannot be read
    assert any("tensor 'huge'" in l and "shape of more than 2^60 elements" in l for l in err), r.stderr
    assert any("tensor 'rank'" in l and "cannot open" in l and "dimensionality" in l for l in err), r.stderr
    assert "fine" in r.stdout and "unsupported: shape of more than 2^60 elements" in r.stdout


def test_compound_and_complex_types_say_what_they_are(tmp_path):
    """A compound names its fields; a complex pair (h5py writes numpy complex as {r, i}) says
    it is complex. Not a listing error, not 'compound type (e.g. complex)'."""
    p = tmp_path / "c.h5"
    with h5py.File(p, "w") as f:
        f["z"] = np.arange(4) * (1 + 2j)
        f["z32"] = (np.arange(4) * (1 - 1j)).astype(np.complex64)
        f["zs"] = np.complex128(3 + 4j)  # scalar dataspace
        f["rec"] = np.zeros(3, dtype=[("x", "<i4"), ("y", "<f8"), ("inner", [("a", "u1")])])
        f["x"] = np.arange(3.0)
    r = run("stats", p)
    assert r.returncode == 2 and "internal" not in r.stderr.lower(), r.stderr
    err = lines(r.stderr)
    assert len(err) == 4, r.stderr
    assert any("tensor 'z'" in l and "complex numbers (compound {r: float64, i: float64})" in l for l in err), r.stderr
    assert any("tensor 'z32'" in l and "complex numbers (compound {r: float32, i: float32})" in l for l in err), r.stderr
    assert any("tensor 'zs'" in l and "complex numbers" in l for l in err), r.stderr
    assert any("tensor 'rec'" in l and "compound type {x: int32, y: float64, inner: {a: uint8}}" in l for l in err), r.stderr


def test_null_and_scalar_dataspaces(tmp_path):
    """A scalar is a 0-d tensor of one element, shape (); a null dataspace (h5py.Empty, HDF5's
    tnullspace.h5) holds no data: a tensor of no elements, shown as shape (0,)."""
    a = tmp_path / "a.h5"
    b = tmp_path / "b.h5"
    for path, v in ((a, 2.5), (b, 2.5)):
        with h5py.File(path, "w", libver="earliest") as f:
            f["s"] = np.float64(v)
            f["null"] = h5py.Empty("<i4")
    r = run("stats", a)
    assert r.returncode == 0, r.stderr
    row = {l.split()[1]: l for l in r.stdout.splitlines() if l.strip()[:1].isdigit()}
    assert "()" in row["s"] and "2.5" in row["s"], r.stdout
    assert "(0,)" in row["null"], r.stdout
    r = run(a, b, "--exact")
    assert r.returncode == 0, r.stdout + r.stderr


def test_user_block_chunk_addresses_are_relative_to_the_base_address(tmp_path):
    """With a 512-byte user block, chunked data was read 512 bytes early: 'corrupt deflate data',
    or wrong values without a word for unfiltered chunks. Also a user block prepended to a
    finished file (h5jam's way: the superblock keeps base address 0)."""
    values = {"gz": np.arange(5000.0).reshape(50, 100), "plain": np.arange(3000, dtype="i4"),
              "contig": np.linspace(0, 1, 77)}
    ref = reference(tmp_path / "ref.h5", values)
    ub = tmp_path / "ub.h5"
    with h5py.File(ub, "w", userblock_size=512) as f:
        f.create_dataset("gz", data=values["gz"], chunks=(10, 30), compression="gzip", shuffle=True)
        f.create_dataset("plain", data=values["plain"], chunks=(256,))
        f["contig"] = values["contig"]
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("gz", data=values["gz"], chunks=(10, 30), compression="gzip")
        f.create_dataset("plain", data=values["plain"], chunks=(256,))
        f["contig"] = values["contig"]
    jammed = tmp_path / "jammed.h5"
    jammed.write_bytes(b"user block text\n".ljust(1024, b"\0") + plain.read_bytes())
    with h5py.File(jammed, "r") as f:  # libhdf5 reads it: the values are the reference's
        assert np.array_equal(f["gz"][()], values["gz"])
    for p in (ub, jammed):
        r = run(p, ref, "--exact")
        assert r.returncode == 0, (p.name, r.stdout, r.stderr)


def test_extensible_array_chunks_land_where_libhdf5_puts_them(tmp_path):
    """libver='latest' with one unlimited dimension that is not the first (an extensible-array
    chunk index): libhdf5 1.10's chunk queries answer at swizzled coordinates, so chunks were
    read into the wrong place, silently (HDF5's h5fc_ext1_f.h5)."""
    values = {"ea": np.arange(24, dtype="i4").reshape(4, 6),
              "ea3": np.arange(120.0).reshape(4, 6, 5)}
    ref = reference(tmp_path / "ref.h5", values)
    p = tmp_path / "ea.h5"
    with h5py.File(p, "w", libver="latest") as f:
        f.create_dataset("ea", data=values["ea"], maxshape=(4, None), chunks=(2, 3))
        f.create_dataset("ea3", data=values["ea3"], maxshape=(4, None, 5), chunks=(2, 3, 2), compression="gzip")
    r = run(p, ref, "--exact")
    assert r.returncode == 0, r.stdout + r.stderr


def test_family_driver_files_read_from_member_0(tmp_path):
    """h5py driver='family': member 0 holds the superblock, the data runs on over members 1..n."""
    values = {"w": np.arange(20000.0).reshape(100, 200), "c": np.arange(3000, dtype="i2")}
    ref = reference(tmp_path / "ref.h5", values)
    with h5py.File(tmp_path / "fam%05d.h5", "w", driver="family", memb_size=64 * 1024) as f:
        f["w"] = values["w"]
        f.create_dataset("c", data=values["c"], chunks=(500,), compression="gzip")
    members = sorted(os.listdir(tmp_path))
    assert "fam00002.h5" in members
    reads_whole_and_refuses_part(tmp_path / "fam00000.h5", ref, tmp_path / "fam00002.h5",
                                 "member of an HDF5 family: give its member 0", "fam00000.h5")


def reads_whole_and_refuses_part(whole, ref, part, why, named):
    """A multi-file HDF5 file: read from the member that holds it, equal to `ref`; another
    member is one error line (exit 2) saying why and naming the member to give."""
    r = run(whole, ref, "--exact")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("stats", part)
    assert r.returncode == 2 and len(lines(r.stderr)) == 1, r.stderr
    assert why in r.stderr and named in r.stderr, r.stderr


def test_split_multi_driver_files_read_from_the_metadata_member(tmp_path):
    """h5py driver='split' (libhdf5's multi driver): metadata in NAME-m.h5, raw data in NAME-r.h5.
    Was 'cannot open HDF5 file, truncated or corrupt (multi driver should be used)'."""
    values = {"w": np.arange(5000.0).reshape(50, 100), "i": np.arange(10, dtype="i8")}
    ref = reference(tmp_path / "ref.h5", values)
    with h5py.File(tmp_path / "s", "w", driver="split") as f:
        f["w"] = values["w"]
        f.create_dataset("i", data=values["i"], chunks=(4,))
    assert (tmp_path / "s-m.h5").exists() and (tmp_path / "s-r.h5").exists()
    reads_whole_and_refuses_part(tmp_path / "s-m.h5", ref, tmp_path / "s-r.h5",
                                 "member of a multi-file HDF5 file: give", "s-m.h5")


def test_netcdf_files(tmp_path):
    """netCDF-4 files are HDF5 underneath (dimension scales, _NCProperties, creation order):
    they read. netCDF-3 (classic) files are not HDF5: named as such, one line, exit 2."""
    values = {"temp": np.arange(12, dtype="f4").reshape(3, 4), "time": np.arange(3.0)}
    ref = reference(tmp_path / "ref.h5", values)
    p = tmp_path / "like_nc4.nc"
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    fid = h5py.h5f.create(str(p).encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)
    with h5py.File(fid) as f:  # what netCDF-C writes, as far as h5py can
        f.attrs["_NCProperties"] = np.bytes_(b"version=2,netcdf=4.9.0,hdf5=1.10.8")
        f["time"] = values["time"]
        f["time"].make_scale("time")
        f["x"] = np.zeros(4, dtype="f4")
        f["x"].make_scale("This is a netCDF dimension but not a netCDF variable.         4")
        f.create_dataset("temp", data=values["temp"], chunks=(1, 4), compression="gzip", fillvalue=np.float32(9.96921e36))
        f["temp"].dims[0].attach_scale(f["time"])
        f["temp"].dims[1].attach_scale(f["x"])
    r = run(p, ref, "--exact", "--exclude", "x")
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        import netCDF4
    except ImportError:
        netCDF4 = None
    if netCDF4 is not None:  # Debian: python3-netcdf4
        q = tmp_path / "real.nc"
        with netCDF4.Dataset(q, "w", format="NETCDF4") as d:
            d.createDimension("time", None)
            d.createDimension("x", 4)
            d.createVariable("time", "f8", ("time",))[:] = values["time"]
            d.createVariable("temp", "f4", ("time", "x"), zlib=True)[:] = values["temp"]
        r = run(q, ref, "--exact", "--exclude", "x")
        assert r.returncode == 0, r.stdout + r.stderr
    classic = tmp_path / "classic.nc"
    classic.write_bytes(b"CDF\x01" + bytes(28))  # a netCDF-3 header, as far as the magic goes
    r = run("stats", classic)
    assert r.returncode == 2 and len(lines(r.stderr)) == 1, r.stderr
    assert "netCDF-3 (classic) file, which is not HDF5-based" in r.stderr, r.stderr
