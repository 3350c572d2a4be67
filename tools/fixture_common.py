"""Helpers shared by the fixture generators in tools/ (imported, not run)."""

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
