"""Helpers shared by the fixture generators in tools/ (imported, not run)."""

import os
import zlib

import numpy as np
import onnxruntime as ort


def rng_for(name):
    """A generator seeded from the case name, so adding a case leaves the others unchanged."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def reference_session(model):
    """An onnxruntime session without graph optimisations, one thread, quiet; `model` is a path or bytes."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def save_npy(path, arr, dtype="<f4"):
    """numpy.save's format 1.0, little-endian, C order; returns the file size."""
    arr = np.ascontiguousarray(arr, dtype=dtype)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=(1, 0), allow_pickle=False)
    return os.path.getsize(path)


def maxdiff(a, b):
    """max |a - b| in float64, for arrays of the same shape."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max())


def centre_fit(img, height, width):
    """Centre crop to the aspect ratio width:height, Pillow bilinear resize to width x height, [0, 1]."""
    from PIL import Image

    w, h = img.size
    if w * height > h * width:
        cw, ch = int(round(h * width / height)), h
    else:
        cw, ch = w, int(round(w * height / width))
    left, top = int(round((w - cw) / 2.0)), int(round((h - ch) / 2.0))
    return np.asarray(img.crop((left, top, left + cw, top + ch)).resize((width, height), Image.BILINEAR),
                      dtype=np.float32) / 255.0
