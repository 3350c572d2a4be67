"""Time onnxruntime's CPU inference of an ONNX model (a yardstick for lafam's own runtime).

Run from the repository root (after tools/setup-venv.sh), e.g.:

    .venv/bin/python tools/benchmarks/bench_onnxruntime.py Models/mobilenet_v2.onnx --batch 1 --runs 50 --threads 1
    .venv/bin/python tools/benchmarks/bench_onnxruntime.py Models/mobilenet_v2.onnx --threads 2 --json

Builds one session (CPUExecutionProvider, intra_op_num_threads=T, inter_op_num_threads=1, default
graph optimisations), feeds a fixed-seed standard-normal float32 tensor of the first input's shape
with the first (batch) dimension set to B, runs W untimed warm-up runs, then times
`session.run` alone over N runs. Prints `min X ms  median Y ms  max Z ms` and the peak memory on one
line, or with --json an object {"minMs", "medianMs", "maxMs", "peakRssMb", "baselineRssMb", ...}.

Memory (MB, getrusage's ru_maxrss): `peakRssMb` is the process's peak resident set size at the end;
`baselineRssMb` is the same figure measured after importing numpy and onnxruntime, before the session
is created, i.e. the Python interpreter's and the libraries' share of the peak.
"""

import argparse
import json
import resource
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

ELEM_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
}


def peak_rss_mb():
    """This process's peak resident set size so far, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print a JSON object instead of one text line")
    args = ap.parse_args()
    if args.runs < 1 or args.batch < 1 or args.threads < 1 or args.warmup < 0:
        sys.exit("--runs, --batch and --threads must be >= 1, --warmup >= 0")
    baseline_rss_mb = peak_rss_mb()

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])

    first = sess.get_inputs()[0]
    if not first.shape:
        sys.exit(f"input {first.name!r} has no shape")
    shape = [args.batch]
    for d in first.shape[1:]:
        if not isinstance(d, int) or d <= 0:
            sys.exit(f"input {first.name!r} has a non-fixed non-batch dimension {d!r}: {first.shape}")
        shape.append(d)
    dtype = ELEM_TYPES.get(first.type)
    if dtype is None:
        sys.exit(f"unsupported input type {first.type}")
    rng = np.random.default_rng(args.seed)
    feeds = {first.name: rng.standard_normal(shape).astype(dtype)}
    outputs = [o.name for o in sess.get_outputs()]

    for _ in range(args.warmup):
        sess.run(outputs, feeds)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        sess.run(outputs, feeds)
        times.append((time.perf_counter() - t0) * 1000.0)

    result = {
        "minMs": round(min(times), 4),
        "medianMs": round(statistics.median(times), 4),
        "maxMs": round(max(times), 4),
        "runs": args.runs,
        "warmup": args.warmup,
        "batch": args.batch,
        "threads": args.threads,
        "input_shape": shape,
        "onnxruntime": ort.__version__,
        "peakRssMb": round(peak_rss_mb(), 2),
        "baselineRssMb": round(baseline_rss_mb, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"min {result['minMs']:.3f} ms  median {result['medianMs']:.3f} ms  max {result['maxMs']:.3f} ms"
              f"  peak RSS {result['peakRssMb']:.0f} MB (after imports {result['baselineRssMb']:.0f} MB)"
              f"  ({args.model}, batch {args.batch}, {args.threads} thread(s), {args.runs} runs)")


if __name__ == "__main__":
    main()
