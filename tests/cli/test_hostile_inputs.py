"""Issue 11: hostile and broken inputs. Each case is a small file written here (h5py, or bytes
patched after writing), run through the real binary: one clear line on stderr naming the file
and tensor, exit 2, no crash, no hang, bounded memory, nothing of the user's replaced."""
import json
import os
import re
import signal
import stat
import subprocess
import time

import h5py
import numpy as np
import pytest

BIN = os.environ.get("TENSORDIFF_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "tensordiff"))


def run(*args, timeout=60, env=None, **kw):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=e, **kw)


def one_line(err):
    return len([l for l in err.splitlines() if l.strip()]) == 1


def pair(tmp_path, write):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    for p in (a, b):
        with h5py.File(p, "w") as f:
            write(f)
    return a, b


def patch(path, old: bytes, new: bytes, count=1):
    data = path.read_bytes()
    assert data.count(old) >= 1, "pattern not found"
    path.write_bytes(data.replace(old, new, count))


def test_compact_storage_that_disagrees_with_the_shape(tmp_path):
    """Crashed libhdf5 (H5VM_memcpyvv) or printed heap bytes as values: now named."""
    p = tmp_path / "c.h5"
    values = np.arange(8, dtype=np.float64) + 0.123456789
    with h5py.File(p, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((8,))
        ds = h5py.h5d.create(f.id, b"compact", h5py.h5t.IEEE_F64LE, space, dcpl=dcpl)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, values)
    good = run("stats", "-q", p)
    assert good.returncode == 0, good.stderr
    # The dataspace message (v1: version 1, rank 1, max dims present) says 8 elements; claim
    # more or fewer while the compact storage keeps its 64 bytes. libhdf5 1.10.8 then copies by
    # the shape: past its buffer (heap bytes as values, or a crash).
    data = p.read_bytes()
    space = bytes([1, 1, 1, 0, 0, 0, 0, 0]) + (8).to_bytes(8, "little") * 2
    assert data.count(space) == 1
    for dims in (9, 7, 1000):
        q = tmp_path / f"c{dims}.h5"
        q.write_bytes(data.replace(space, bytes([1, 1, 1, 0, 0, 0, 0, 0]) + dims.to_bytes(8, "little") * 2))
        r = run("stats", q)
        assert r.returncode == 2, (dims, r.stdout, r.stderr)
        assert "tensor 'compact'" in r.stderr and "compact storage holds 64 bytes" in r.stderr, r.stderr
        assert "e+27" not in r.stdout  # no statistics made of heap bytes


def test_summary_nested_100000_levels(tmp_path):
    p = tmp_path / "deep.jsonl"
    p.write_text('{"name": "x", "shape": ' + "[" * 100000 + "]" * 100000 + "}\n")
    r = run(p, p)
    assert r.returncode == 2 and one_line(r.stderr), r.stderr
    assert "nested deeper than 32 levels" in r.stderr


def test_summary_errors_name_line_and_field(tmp_path):
    p = tmp_path / "s.jsonl"
    good = {"name": "t", "order": 0, "dtype": "float32", "shape": [2], "count": 2, "nonzero": 2, "nan": 0,
            "pos_inf": 0, "neg_inf": 0, "min": 1, "max": 2, "mean": 1.5, "std": 0.5, "l2": 2.2,
            "first_nonzero": [], "checksum": "00ff"}
    for field, value, want in (("count", "two", "field 'count' must be a non-negative integer"),
                               ("checksum", "xyz", "field 'checksum' must be 1 to 16 hex digits"),
                               ("mean", [1], "field 'mean' must be a number")):
        bad = dict(good, **{field: value})
        p.write_text('{"kind": "summary"}\n' + json.dumps(good) + "\n" + json.dumps(bad) + "\n")
        r = run(p, p)
        assert r.returncode == 2 and one_line(r.stderr), r.stderr
        assert f"{p}:3: not a tensordiff summary: {want}" in r.stderr, r.stderr
    # Two entries with one name: the file is blamed, not a --map that was never given.
    p.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    r = run(p, p)
    assert r.returncode == 2 and "two tensors named 't'" in r.stderr and "--map" not in r.stderr, r.stderr


def test_threads_and_regexes_cannot_crash_or_hang(tmp_path):
    long_name = "a" * 20000
    a, b = pair(tmp_path, lambda f: f.create_dataset(long_name, data=np.ones(4)))
    r = run("--threads", 100000, a, b)
    assert r.returncode == 2 and "--threads must be 0 (all cores) to 1024" in r.stderr
    t0 = time.time()
    r = run("-q", "--map", "(.)*=x", a, b, timeout=30)
    # B's tensor renamed to 'x': nothing pairs, which is an error with one bounded line
    assert r.returncode == 2 and "nothing compared" in r.stderr and len(r.stderr) < 2000, r.stderr
    r = run("-q", "--map", "(a*)*b=x", a, b, timeout=30)
    assert r.returncode == 0, r.stderr
    r = run("-q", "--include", "*a*a*a*a*a*a*a*a*a*a*b", a, b, timeout=30)
    assert r.returncode == 2 and "matches no tensor" in r.stderr, r.stderr  # selects nothing: an error
    assert time.time() - t0 < 20


def test_fifo_and_devices_are_refused_at_once(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    a, _ = pair(tmp_path, lambda f: f.create_dataset("x", data=np.ones(4)))
    for other in (fifo, "/dev/zero"):
        r = run(a, other, timeout=20)
        assert r.returncode == 2 and one_line(r.stderr), r.stderr
        assert str(other) in r.stderr and "not a file" in r.stderr, r.stderr
    # A directory is a folder of dumps: paired only with another folder.
    r = run(a, tmp_path, timeout=20)
    assert r.returncode == 2 and one_line(r.stderr), r.stderr
    assert str(tmp_path) in r.stderr and "is a folder of dumps" in r.stderr, r.stderr


def test_enormous_never_written_datasets_answer_at_once(tmp_path):
    """A tiny file that declares 2^48 elements: no plan of 2^29 items, no hours of reading."""
    def write(f):
        f.create_dataset("huge", shape=(2 ** 48,), chunks=(1 << 16,), dtype=np.float32, fillvalue=0.5)
        f.create_dataset("contig", shape=(2 ** 40,), dtype=np.float64)
    a, b = pair(tmp_path, write)
    assert a.stat().st_size < 64 * 1024
    t0 = time.time()
    r = run("--json", tmp_path / "r.json", a, b, timeout=60)
    assert r.returncode == 0, r.stderr
    assert time.time() - t0 < 30
    rep = json.loads((tmp_path / "r.json").read_text())
    huge = next(t for t in rep["tensors"] if t["name"] == "huge")
    assert huge["a"]["count"] == 2 ** 48 and huge["a"]["mean"] == 0.5 and huge["a"]["std"] == 0
    assert huge["a"]["checksum"] is None  # never written and too large to checksum
    s = run("stats", "-q", a, timeout=60)
    assert s.returncode == 0, s.stderr


def test_a_chunk_size_from_a_corrupt_index_is_not_allocated(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.standard_normal(4096).astype(np.float32)
    p = tmp_path / "z.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("z", data=data, chunks=(4096,), compression="gzip")
        size = f["z"].id.get_chunk_info(0).size
    # v1 B-tree chunk record: u32 size, u32 filter mask, then the offsets.
    patch(p, size.to_bytes(4, "little") + b"\0\0\0\0", (0x7FFFFFF0).to_bytes(4, "little") + b"\0\0\0\0")
    r = run("stats", p)
    assert r.returncode == 2 and "tensor 'z'" in r.stderr, r.stderr
    assert "chunk index is corrupt" in r.stderr or "past the end" in r.stderr, r.stderr


def test_reports_never_replace_what_is_not_theirs(tmp_path):
    a, b = pair(tmp_path, lambda f: f.create_dataset("x", data=np.ones(4)))
    # A device stays a device.
    r = run("-q", "--json", "/dev/null", a, b)
    assert r.returncode == 0 and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    # An input is never overwritten.
    before = a.read_bytes()
    r = run("--json", a, a, b)
    assert r.returncode == 2 and "would overwrite input" in r.stderr and a.read_bytes() == before
    # '-' is stdout, parseable.
    r = run("--json", "-", a, b)
    assert r.returncode == 0 and json.loads(r.stdout)["summary"]["compared"] == 1
    # A full stdout is an error.
    with open("/dev/full", "w") as full:
        r = subprocess.run([BIN, a, b], stdout=full, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 2 and "cannot write to standard output" in r.stderr


def test_interrupted_run_leaves_no_temporary_file(tmp_path):
    rng = np.random.default_rng(0)
    a, b = pair(tmp_path, lambda f: [f.create_dataset(f"t{i}", data=rng.standard_normal(1 << 18)) for i in range(40)])
    for sig in (signal.SIGINT, signal.SIGTERM):
        p = subprocess.Popen([BIN, "-q", "--threads", "1", "--json", tmp_path / "r.json", a, b])
        time.sleep(0.05)
        p.send_signal(sig)
        p.wait(timeout=30)
        assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]


def test_valid_sparse_file_prints_no_hdf5_stacks(tmp_path):
    def write(f):
        d = f.create_dataset("sparse", shape=(1000, 1000), chunks=(100, 100), dtype=np.float32)
        d[0:100, 0:100] = 1.0
    a, b = pair(tmp_path, write)
    r = run("--verbose", a, b)
    assert r.returncode == 0 and "HDF5-DIAG" not in r.stderr, r.stderr


def test_non_utf8_names_are_escaped_in_json(tmp_path):
    a, b = pair(tmp_path, lambda f: f.create_dataset(b"bad\xffname", data=np.ones(3)))
    r = run("-q", "--json", tmp_path / "r.json", a, b)
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["tensors"][0]["name"] == "bad\ufffdname"


def test_bfloat16_spelled_with_a_utf8_attribute(tmp_path):
    """h5py writes str attributes as UTF-8; Keras-style opaque bf16 and uint16 + dtype attr."""
    bits = (np.arange(1, 9, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    def write(f):
        f.create_dataset("as_uint16", data=bits).attrs["dtype"] = "bfloat16"
        opaque = f.create_dataset("as_opaque", data=bits.view(np.dtype("V2")))
        opaque.attrs["dtype"] = "bfloat16"
    a, _ = pair(tmp_path, write)
    r = run("stats", "--json", tmp_path / "s.json", a)
    assert r.returncode == 0, r.stderr
    rows = {t["name"]: t for t in json.loads((tmp_path / "s.json").read_text())["tensors"]}
    for n in ("as_uint16", "as_opaque"):
        assert rows[n]["dtype"] == "bfloat16" and rows[n]["max"] == 8.0, rows[n]


def test_packed_integers_are_decoded(tmp_path):
    """Integers with reduced precision (H5Tset_precision): values, not raw container bits."""
    p = tmp_path / "n.h5"
    t = h5py.h5t.STD_I16LE.copy()
    t.set_precision(12)
    values = np.arange(-2048, 2048, dtype=np.int16)
    with h5py.File(p, "w") as f:
        ds = h5py.h5d.create(f.id, b"packed", t, h5py.h5s.create_simple(values.shape))
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, values)
        f.create_dataset("nbit", data=values, chunks=(512,), compression=h5py.h5z.FILTER_NBIT)
    r = run("stats", "--json", tmp_path / "s.json", p)
    assert r.returncode == 0, r.stderr
    rows = {t["name"]: t for t in json.loads((tmp_path / "s.json").read_text())["tensors"]}
    for n in ("packed", "nbit"):  # was read as raw container bits: 12..16400
        assert rows[n]["min"] == -2048 and rows[n]["max"] == 2047, rows[n]


def test_one_unreadable_tensor_does_not_stop_the_others(tmp_path):
    def write(f):
        f.create_dataset("good", data=np.ones(100))
        f.create_dataset("lzf", data=np.ones(1000), chunks=(100,), compression="lzf")
        f.create_dataset("also_good", data=np.zeros(100))
    a, b = pair(tmp_path, write)
    r = run("--json", tmp_path / "r.json", a, b)
    rep = json.loads((tmp_path / "r.json").read_text())
    rows = {t["name"]: t for t in rep["tensors"]}
    assert rows["good"]["status"] == "match" and rows["also_good"]["status"] == "match"
    if rows["lzf"]["status"] == "error":  # no lzf plugin on this machine: named, exit 2
        assert r.returncode == 2
        assert "needs the HDF5 filter 'lzf'" in rows["lzf"]["reason"], rows["lzf"]
    else:
        assert rows["lzf"]["status"] == "match" and r.returncode == 0


def test_external_and_soft_links_are_noted_or_followed(tmp_path):
    target = tmp_path / "target.h5"
    with h5py.File(target, "w") as f:
        f.create_dataset("w", data=np.arange(5.0))
    def write(f):
        f["ext"] = h5py.ExternalLink(str(target), "/w")
        f.create_dataset("real", data=np.ones(3))
        f["soft"] = h5py.SoftLink("/real")
    a, b = pair(tmp_path, write)
    r = run(a, b)
    assert r.returncode == 0
    assert "'ext' is a external link" in r.stderr and "not followed (--follow-links)" in r.stderr, r.stderr
    assert "1 compared" in r.stdout
    r = run("--follow-links", "--json", tmp_path / "r.json", a, b)
    assert r.returncode == 0, r.stderr
    names = {t["name"] for t in json.loads((tmp_path / "r.json").read_text())["tensors"]}
    assert names == {"ext", "real", "soft"}


def test_dimension_above_its_maximum_is_corrupt(tmp_path):
    # Found by tests/fuzz/hdf5_mutate.py: a dataspace whose size exceeds its maximum made a
    # 20 KB file claim 2^44 elements, most of them never written, and the run never ended.
    a, b = pair(tmp_path, lambda f: (f.create_dataset("x", data=np.ones(1237, np.float32), maxshape=(1237,),
                                                       chunks=(100,)),
                                     f.create_dataset("y", data=np.ones(4, np.float32))))
    patch(a, (1237).to_bytes(8, "little") * 2, (1 << 44).to_bytes(8, "little") + (1237).to_bytes(8, "little"))
    t = time.monotonic()
    r = run(a, b, "--json", tmp_path / "r.json", timeout=30)
    assert time.monotonic() - t < 10
    assert r.returncode == 2, r.stderr
    rows = {x["name"]: x for x in json.load(open(tmp_path / "r.json"))["tensors"]}
    assert rows["x"]["status"] == "error" and "above its maximum 1237" in rows["x"]["reason"]
    assert rows["y"]["status"] == "match"


FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "hostile")


def test_libhdf5_crash_is_contained(tmp_path):
    # Found by tests/fuzz/hdf5_mutate.py: libhdf5 1.10 copies 256 MB out of a 2-byte buffer
    # while opening a dataset of this file (H5T_copy). It happens in the helper process.
    r = run("stats", os.path.join(FIXTURES, "libhdf5_overflows.h5"))
    assert r.returncode == 2
    last = [l for l in r.stderr.splitlines() if l.strip()][-1]
    if "AddressSanitizer" in r.stderr:  # the instrumented build reports it from the helper
        assert "run_hdf5_helper" in r.stderr and "HDF5 helper ended without an answer" in last
    else:
        assert one_line(r.stderr) and "libhdf5 crashed (SIGSEGV)" in last, r.stderr


def test_libhdf5_endless_loop_times_out_and_dies_with_the_engine(tmp_path):
    # Found by tests/fuzz/hdf5_mutate.py: libhdf5 loops forever listing this file.
    path = os.path.join(FIXTURES, "libhdf5_loops.h5")
    t = time.monotonic()
    r = run("stats", path, env={"TENSORDIFF_HDF5_TIMEOUT": "2"})
    assert time.monotonic() - t < 15
    assert r.returncode == 2 and one_line(r.stderr)
    assert "libhdf5 did not answer within 2 s (TENSORDIFF_HDF5_TIMEOUT)" in r.stderr
    # An engine killed outright takes its helper with it (no orphan spinning in libhdf5).
    p = subprocess.Popen([BIN, "stats", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    children = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    assert children, "the helper should be running"
    p.kill()
    p.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{c}") for c in children):
        time.sleep(0.05)
    alive = [c for c in children if os.path.exists(f"/proc/{c}") and
             "Z" not in open(f"/proc/{c}/stat").read().split()[2]]
    assert not alive, f"helper {alive} outlived the engine"


def test_helper_executable_and_fork_fallback_agree(tmp_path):
    # The helper runs as its own executable (posix_spawn); a program without it forks the
    # engine instead (TENSORDIFF_HDF5_HELPER=fork forces that). Same listing, same reads.
    a, b = pair(tmp_path, lambda f: (f.create_dataset("c", data=np.arange(100, dtype=np.float32), chunks=(7,),
                                                      compression="gzip"),
                                     f.create_dataset("s", data=np.float64(3.0))))
    out = {}
    for mode in ("", "fork"):
        r = run("stats", a, "--json", "-", env={"TENSORDIFF_HDF5_HELPER": mode})
        assert r.returncode == 0, r.stderr
        out[mode] = [{k: v for k, v in t.items()} for t in json.loads(r.stdout)["tensors"]]
    assert out[""] == out["fork"]
    r = run("stats", a, env={"TENSORDIFF_HDF5_HELPER": str(tmp_path / "missing")})
    assert r.returncode == 2 and one_line(r.stderr)
    assert "cannot start the HDF5 helper" in r.stderr and "No such file" in r.stderr


# Issue 23 items 7-10: msprobe dump folders. Each file a source opens inside one goes through
# the checked open of a top-level input; a folder given at the wrong level is named.

def msprobe_dump(root, scale=1.0, task="tensor"):
    """An msprobe dump as msprobe's MindSpore dumper writes it: dump.json, stack.json and one
    .npy per tensor under dump_tensor_data/ (numpy alone: the CLI suites run without torch)."""
    data = root / "dump_tensor_data"
    (data if task == "tensor" else root).mkdir(parents=True)
    entries = {}
    for i in range(2):
        entry = f"Functional.op{i}.0.forward"
        e = {}
        for key, cat in (("input_args", "input"), ("output", "output")):
            x = np.arange(1, 7, dtype=np.float32).reshape(2, 3) * (i + 1)
            if cat == "output" and i == 1:
                x = x * np.float32(scale)
            t = {"type": "mindspore.Tensor", "dtype": "Float32", "shape": [2, 3], "Max": float(x.max()),
                 "Min": float(x.min()), "Mean": float(x.mean()), "Norm": float(np.linalg.norm(x))}
            if task == "tensor":
                t["data_name"] = f"{entry}.{cat}.0.npy"
                np.save(data / t["data_name"], x)
            e[key] = [t]
        entries[entry] = e
    dump = {"task": task, "level": "L1", "framework": "mindspore",
            "dump_data_dir": str(data) if task == "tensor" else None, "data": entries}
    (root / "dump.json").write_text(json.dumps(dump, indent=1))
    frames = ["File /usr/lib/python3/dist-packages/torch/nn/modules/normalization.py, line 190, in forward, \n x",
              "File /opt/venv/lib/python3.11/site-packages/msprobe/core/hook.py, line 9, in h, \n x",
              "File /work/train.py, line 41, in forward, \n y = op(x)"]
    (root / "stack.json").write_text(json.dumps({"0": [list(entries), frames]}))
    return root


def tree_state(*roots):
    """Every entry under the roots: kind, size, mtime and (regular files) content."""
    out = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            for n in dirs + files:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                body = open(p, "rb").read() if stat.S_ISREG(st.st_mode) else os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
                out[p] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, body)
    return out


TARGETS = {"dump.json": "dump.json", "stack.json": "stack.json",
           "npy": "dump_tensor_data/Functional.op1.0.forward.output.0.npy",
           "pt": "dump_tensor_data/Functional.op1.0.forward.output.0.pt"}


@pytest.mark.parametrize("kind", ["fifo", "devzero", "outside"])
@pytest.mark.parametrize("target", list(TARGETS))
def test_msprobe_files_are_opened_as_inputs_are(tmp_path, target, kind):
    """A dump.json, stack.json or tensor file inside an msprobe folder that is a FIFO, a link to
    /dev/zero or a link out of the folder: one line naming it, exit 2, at once (a FIFO was
    waited on forever, /dev/zero read to 2 GB, an outside file read), nothing changed."""
    a, b = msprobe_dump(tmp_path / "a"), msprobe_dump(tmp_path / "b")
    good = run(a, b, timeout=30)
    assert good.returncode == 0, good.stderr
    rel = TARGETS[target]
    if target == "pt":  # torch.save's zip, read through minizip: its file named .pt in dump.json
        dj = a / "dump.json"
        dj.write_text(dj.read_text().replace("Functional.op1.0.forward.output.0.npy", "Functional.op1.0.forward.output.0.pt"))
        (a / TARGETS["npy"]).unlink()
    victim = a / rel
    outside = tmp_path / "elsewhere" / victim.name
    outside.parent.mkdir()
    if victim.exists():
        outside.write_bytes(victim.read_bytes())
        victim.unlink()
    else:
        outside.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: what a link out would read
    if kind == "fifo":
        os.mkfifo(victim)
    elif kind == "devzero":
        os.symlink("/dev/zero", victim)
    else:
        os.symlink(outside, victim)
    before = tree_state(tmp_path)
    for args in ((a, b), (b, a), ("stats", a), (tmp_path, tmp_path)):  # tmp_path: a folder holding both
        t0 = time.monotonic()
        r = run(*args, timeout=20)
        assert time.monotonic() - t0 < 15, args
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert one_line(r.stderr), r.stderr
        assert str(victim) in r.stderr or (args[0] == tmp_path and victim.name in r.stderr), r.stderr
        want = {"fifo": "is a FIFO (pipe), not a file", "devzero": "link to /dev/zero, outside the dump folder",
                "outside": f"link to {outside}, outside the dump folder"}[kind]
        assert want in r.stderr, r.stderr
    assert tree_state(tmp_path) == before


def test_msprobe_stack_json_as_big_as_a_listing_may_be_is_refused_unread(tmp_path):
    """A regular stack.json beyond what a listing holds is refused by its size, not read."""
    a, b = msprobe_dump(tmp_path / "a"), msprobe_dump(tmp_path / "b")
    with open(a / "stack.json", "r+b") as f:
        f.truncate((4 << 30) + 1)  # sparse: no disk used
    r = run(a, b, timeout=20)
    assert r.returncode == 2 and one_line(r.stderr), r.stderr
    assert f"{a / 'stack.json'}: 4294967297 bytes, more than the 4294967296" in r.stderr


def test_msprobe_missing_tensor_file_is_still_a_row(tmp_path):
    """A tensor file that is simply missing stays an error row (the run goes on), not a refusal."""
    a, b = msprobe_dump(tmp_path / "a"), msprobe_dump(tmp_path / "b")
    (a / TARGETS["npy"]).unlink()
    r = run(a, b, "--json", "-", timeout=30)
    rep = json.loads(r.stdout)
    errors = [t for t in rep["tensors"] if t["status"] == "error"]
    assert r.returncode == 2 and [t["name"] for t in errors] == ["Functional.op1.0.forward.output.0"], r.stderr
    assert "is missing" in errors[0]["reason"]


def test_msprobe_source_line_skips_dist_packages_and_framework_frames(tmp_path):
    """'recorded at' is the user's line: Debian's dist-packages and msprobe's frames skipped."""
    a, b = msprobe_dump(tmp_path / "a"), msprobe_dump(tmp_path / "b")
    rep = json.loads(run(a, b, "--json", "-").stdout)
    assert {t["source"] for t in rep["tensors"]} == {"/work/train.py:41"}


def test_tensor_data_folder_given_for_the_dump_points_at_it(tmp_path):
    """dump_tensor_data/ (files named ENTRY.input.0.npy) instead of the folder with dump.json
    compared files by name and named a wrong first divergence: now one line naming the dump."""
    a, b = msprobe_dump(tmp_path / "a"), msprobe_dump(tmp_path / "b", scale=2.0)
    for args, named in (((a / "dump_tensor_data", b / "dump_tensor_data"), a),
                        ((a, str(b / "dump_tensor_data") + "/"), b),
                        (("stats", a / "dump_tensor_data"), a)):
        r = run(*args)
        assert r.returncode == 2 and one_line(r.stderr), r.stderr
        assert f"a folder inside the msprobe dump {named} (its dump.json is there): give {named}" in r.stderr, r.stderr
        assert r.stdout == ""
    r = subprocess.run([BIN, "dump_tensor_data", str(b)], cwd=a, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "give ." in r.stderr, r.stderr


def test_rank_or_step_folder_against_a_dump_root_says_what_to_give(tmp_path):
    """A step or rank folder against a root of step*/rank* dumps pairs nothing by relative path:
    say what was given and what to give, exit 2 (was: every tensor one-sided)."""
    for root in (tmp_path / "A", tmp_path / "B"):
        for step in (0, 1):
            msprobe_dump(root / f"step{step}" / "rank0")
    A, B = tmp_path / "A", tmp_path / "B"
    cases = [((A / "step1" / "rank0", B), f"give {B}/step1/rank0 against {A}/step1/rank0"),
             ((B, A / "step0" / "rank0"), f"give {B}/step0/rank0 against {A}/step0/rank0"),
             ((A / "step1", B), f"give {B}/step1 against {A}/step1"),
             ((A, B / "step0"), f"give {A}/step0 against {B}/step0")]
    for args, want in cases:
        r = run(*args)
        assert r.returncode == 2 and one_line(r.stderr), (args, r.stderr)
        assert want in r.stderr, (args, r.stderr)
    assert run(A, B).returncode == 0
    assert run(A / "step1", B / "step1").returncode == 0


def test_msprobe_config_json_beside_the_dumps_is_not_a_summary(tmp_path):
    """msprobe's config.json kept in the dump root was 'a summary skipped' (and made the root
    compare as summaries): it is skipped quietly, and named for what it is when given."""
    for root in (tmp_path / "A", tmp_path / "B"):
        msprobe_dump(root / "step0" / "rank0")
        (root / "config.json").write_text(json.dumps({"task": "tensor", "dump_path": str(root), "rank": [], "step": [],
                                                      "level": "L1", "tensor": {"scope": [], "list": []}}))
    r = run(tmp_path / "A", tmp_path / "B", "--json", "-")
    assert r.returncode == 0 and "config.json" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["summary"]["matched"] == 4
    r = run("stats", tmp_path / "A" / "config.json")
    assert r.returncode == 2 and one_line(r.stderr)
    assert "config.json: msprobe's configuration" in r.stderr and "not a dump" in r.stderr, r.stderr


def test_stats_of_an_msprobe_statistics_dump_prints_what_it_recorded(tmp_path):
    """stats on a statistics dump exited 2; it prints msprobe's own statistics, as recorded."""
    s = msprobe_dump(tmp_path / "s" / "step0" / "rank0", task="statistics")
    for path, prefix in ((s, ""), (tmp_path / "s", "step0/rank0:")):
        r = run("stats", path, "--json", "-")
        assert r.returncode == 0, r.stderr
        rep = json.loads(r.stdout)
        t = {x["name"]: x for x in rep["tensors"]}[prefix + "Functional.op1.0.forward.output.0"]
        assert t["max"] == 12.0 and t["min"] == 2.0 and t["mean"] == 7.0 and t["storage"] == "msprobe statistics"
        assert t["l2"] == pytest.approx(float(np.linalg.norm(np.arange(1, 7) * 2)), rel=1e-6)
        assert t["nan"] is None and t["checksum"] is None
        assert rep["summary"]["tensors"] == 4
    r = run("stats", s)
    assert r.returncode == 0 and "Functional.op1.0.forward.output.0" in r.stdout, r.stderr
    assert "msprobe's statistics as it recorded them" in r.stderr and "float32" in r.stderr, r.stderr
