#!/usr/bin/env python3
"""lafam against onnxruntime on the deployed MobileNetV2 variants of Tests/Fixtures/quantized/
(tools/fixtures/make_quantized_fixtures.py): every node output of each variant, batch 1 and 4, on
the four sample photos.

    swift build -c release && .venv/bin/python tools/parity/quantized_parity.py --markdown .build-models/quantized-parity.md

onnxruntime runs without graph optimisations (the graph as written, every value observable) and,
for the logits, also with them (what a deployment runs). Quantized tensors are compared as
integers (`lafam taps --raw`) and reported in quantization steps; float tensors by their largest
difference relative to max(1, max|onnxruntime|).
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
from fixture_common import reference_session as session  # noqa: E402

FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "quantized")
LAFAM = os.path.join(ROOT, ".build", "release", "lafam")
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def safe(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def compare(variant, x, work):
    path = os.path.join(FIXTURES, f"mobilenet_v2.{variant}.onnx")
    model = onnx.load(path)
    names = [o for n in model.graph.node if n.op_type != "Constant" for o in n.output if o]
    tapped = onnx.load(path)
    have = {o.name for o in tapped.graph.output}
    tapped.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names if n not in have)
    reference = dict(zip(names, session(tapped.SerializeToString(), False).run(names, {"input": x})))
    xs = os.path.join(work, "x.npy")
    np.save(xs, x)
    out = os.path.join(work, f"{variant}-{len(x)}")
    args = [LAFAM, "taps", path, "--input", xs, "--output", out, "--raw", "--threads", "1"]
    for n in names:
        args += ["--tensor", n]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"lafam taps failed on {variant}: {done.stderr}")
    worst_steps, worst_float, unequal, tensors = 0, 0.0, 0, 0
    for n in names:
        file = os.path.join(out, safe(n) + ".npy")
        if not os.path.exists(file):  # a node's name that is also a tensor's resolves to the node's output
            continue
        got, want = np.load(file), reference[n]
        tensors += 1
        if want.dtype.kind in "iu":
            steps = int(np.abs(got.astype(np.int64) - want.astype(np.int64)).max()) if want.size else 0
            worst_steps = max(worst_steps, steps)
            unequal += steps > 0
        else:
            d = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) if want.size else 0.0
            rel = d / max(1.0, float(np.abs(want).max()))
            worst_float = max(worst_float, rel)
            unequal += d > 0
    logits = np.load(os.path.join(out, "logits.npy"))
    optimised = session(path, True).run(None, {"input": x})[0]
    plain = reference["logits"]
    scale = 1.0
    for i in model.graph.initializer:
        if i.name == "logits_scale":
            scale = float(onnx.numpy_helper.to_array(i))
    return dict(tensors=tensors, unequal=unequal, steps=worst_steps, floatrel=worst_float,
                vs_opt=float(np.abs(logits - optimised).max()), vs_plain=float(np.abs(logits - plain).max()),
                ort_spread=float(np.abs(optimised - plain).max()), scale=scale,
                top1=bool((logits.argmax(1) == optimised.argmax(1)).all()), top1_plain=bool((logits.argmax(1) == plain.argmax(1)).all()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", help="write the table there")
    args = parser.parse_args()
    rgb = np.load(os.path.join(FIXTURES, "samples.pixels.npy"))
    x4 = np.ascontiguousarray(((rgb.astype(np.float32) / np.float32(255) - MEAN) / STD).transpose(0, 3, 1, 2), np.float32)
    rows = ["| variant | batch | node outputs | unequal | largest integer difference | largest float difference (relative) | logits vs onnxruntime optimised / unoptimised | onnxruntime's own spread | top class as onnxruntime (optimised / unoptimised) |",
            "|---|---:|---:|---:|---:|---:|---|---:|---|"]
    with tempfile.TemporaryDirectory() as work:
        for variant in ["qoperator", "dynamic", "qdq", "float16"]:
            for x in (x4[:1], x4):
                r = compare(variant, x, work)
                steps = f" ({r['vs_opt'] / r['scale']:.0f} / {r['vs_plain'] / r['scale']:.0f} steps)" if r["scale"] != 1.0 else ""
                rows.append(f"| {variant} | {len(x)} | {r['tensors']} | {r['unequal']} | {r['steps']} | {r['floatrel']:.2g} | "
                            f"{r['vs_opt']:.3g} / {r['vs_plain']:.3g}{steps} | {r['ort_spread']:.3g} | "
                            f"{'yes' if r['top1'] else 'no'} / {'yes' if r['top1_plain'] else 'no'} |")
                print(rows[-1], flush=True)
    text = "\n".join(rows) + "\n"
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
