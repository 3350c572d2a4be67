#!/usr/bin/env python3
"""Generate whole-model fixtures for lafam's ONNX loader and validator.

Regenerate (from the repository root):

    .venv/bin/python tools/make_model_fixtures.py

Writes ``Tests/Fixtures/models/``: a few valid models that exercise the file format (IR 3 initializers
listed as inputs, external data, Constant-node weights, typed data fields) with
``<model>.input_K.npy`` / ``<model>.output_K.npy`` reference tensors from onnxruntime, a set of
invalid models that the loader/validator must reject, and ``INDEX.md`` describing what each file is and
what the Swift tests should expect. Random data is seeded; reruns are byte-identical.
"""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from fixture_common import reference_session, rng_for
from onnx.external_data_helper import convert_model_to_external_data, set_external_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "Tests", "Fixtures", "models")
PRODUCER = "lafam-tools/make_model_fixtures"

INDEX: list[tuple[str, str, str]] = []  # (files, what it is, what the Swift test should expect)




def randn(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def path(name):
    return os.path.join(OUT_DIR, name)




def tensor_info(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


def model_from(graph, opset=13, ir_version=7):
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version, producer_name=PRODUCER
    )


def write_reference(stem, feeds):
    """Run the saved model ``stem.onnx`` in onnxruntime, save inputs/outputs as ``stem.input_K.npy`` etc."""
    sess = reference_session(path(f"{stem}.onnx"))
    names = [i.name for i in sess.get_inputs()]
    assert names == [n for n, _ in feeds], (stem, names)
    outputs = sess.run(None, dict(feeds))
    for k, (_, arr) in enumerate(feeds):
        np.save(path(f"{stem}.input_{k}.npy"), np.array(arr, order="C"), allow_pickle=False)
    for k, out in enumerate(outputs):
        np.save(path(f"{stem}.output_{k}.npy"), np.array(out, order="C"), allow_pickle=False)
    return outputs


def shapes(outputs):
    return ", ".join(f"{list(o.shape)} {o.dtype}" for o in outputs)


# --------------------------------------------------------------------------------------------
# Valid models
# --------------------------------------------------------------------------------------------


def ir3_initializer_inputs():
    stem = "ir3_initializer_inputs"
    rng = rng_for(stem)
    w = randn(rng, 4, 3, 3, 3, scale=0.3)
    b = randn(rng, 4, scale=0.2)
    x = randn(rng, 2, 3, 6, 6)
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    inputs = [
        tensor_info("x", TensorProto.FLOAT, [2, 3, 6, 6]),
        # IR <= 3 writers list every initializer as a graph input too (its default value).
        tensor_info("W", TensorProto.FLOAT, list(w.shape)),
        tensor_info("B", TensorProto.FLOAT, list(b.shape)),
    ]
    graph = helper.make_graph(
        nodes, stem, inputs, [tensor_info("y", TensorProto.FLOAT, [2, 4, 6, 6])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = model_from(graph, opset=8, ir_version=3)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path(f"{stem}.onnx"))
    outs = write_reference(stem, [("x", x)])
    INDEX.append((
        f"`{stem}.onnx`, `.input_0.npy`, `.output_0.npy`",
        "IR version 3, opset 8: Conv(3x3, pads 1) + Relu. The initializers W [4,3,3,3] and B [4] are also "
        "listed in graph.input after x, as IR <= 3 writers did.",
        f"Loads; the only runtime input is `x` (inputs that have an initializer are constants). "
        f"Output `y` {shapes(outs)} matches `.output_0.npy`.",
    ))


def external_data():
    stem = "external_data"
    location = "external_data.weights"
    rng = rng_for(stem)
    conv_b = randn(rng, 4, scale=0.2)
    conv_w = randn(rng, 4, 3, 3, 3, scale=0.3)
    fc_w = randn(rng, 5, 36, scale=0.2)
    fc_b = randn(rng, 5, scale=0.2)
    x = randn(rng, 2, 3, 6, 6)
    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((conv_b, "conv_b"), (conv_w, "conv_w"), (fc_w, "fc_w"), (fc_b, "fc_b"))]
    graph = helper.make_graph(nodes, stem, [tensor_info("x", TensorProto.FLOAT, [2, 3, 6, 6])],
                              [tensor_info("y", TensorProto.FLOAT, [2, 5])], initializer=inits)
    model = model_from(graph)
    onnx.checker.check_model(model, full_check=True)

    convert_model_to_external_data(model, all_tensors_to_one_file=True, location=location, size_threshold=0)
    # Tensors are appended in initializer order: conv_b at 0 (16 bytes). Leave a 1-byte gap before
    # conv_w so it and every later tensor sit at odd offsets (17, 449, 1169): not 4- or page-aligned.
    weights = {t.name: t for t in model.graph.initializer}
    set_external_data(weights["conv_w"], location, offset=17)
    for f in (path(f"{stem}.onnx"), path(location)):
        if os.path.exists(f):
            os.remove(f)
    onnx.save_model(model, path(f"{stem}.onnx"))
    os.chmod(path(location), 0o644)  # onnx creates the side file 0600

    saved = onnx.load(path(f"{stem}.onnx"), load_external_data=False)
    table = []
    for t in saved.graph.initializer:
        info = {e.key: e.value for e in t.external_data}
        assert t.data_location == TensorProto.EXTERNAL and not t.HasField("raw_data"), t.name
        assert info["location"] == location
        table.append(f"{t.name} @ {info.get('offset', '0')} (+{info['length']})")
    offsets = [int({e.key: e.value for e in t.external_data}.get("offset", 0)) for t in saved.graph.initializer]
    assert any(o % 4 for o in offsets), offsets
    onnx.checker.check_model(path(f"{stem}.onnx"), full_check=True)
    outs = write_reference(stem, [("x", x)])
    INDEX.append((
        f"`{stem}.onnx`, `{location}`, `.input_0.npy`, `.output_0.npy`",
        "Conv(3x3 s2 p1)->Relu->Flatten->Gemm(transB=1), opset 13. All four initializers are external data "
        f"in the one side file `{location}` (data_location=EXTERNAL, no raw_data in the .onnx): "
        + "; ".join(table) + ". The byte before conv_w is a zero gap, so offsets are odd (unaligned reads).",
        f"Loads, resolving `location` relative to the model's folder and honouring offset/length. "
        f"Output {shapes(outs)} matches `.output_0.npy`.",
    ))


def external_bad_location(stem, location, why):
    rng = rng_for(stem)
    w = randn(rng, 2, 4, scale=0.5)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")], stem,
        [tensor_info("x", TensorProto.FLOAT, [1, 2])], [tensor_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    model = model_from(graph)
    t = model.graph.initializer[0]
    set_external_data(t, location, offset=0, length=w.nbytes)  # also sets data_location = EXTERNAL
    t.ClearField("raw_data")
    with open(path(f"{stem}.onnx"), "wb") as f:  # raw bytes: onnx.save must not try to write the side file
        f.write(model.SerializeToString())
    err = ort_error(path(f"{stem}.onnx"))
    assert err is not None, f"onnxruntime accepted {stem}"
    INDEX.append((
        f"`{stem}.onnx`",
        f"MatMul whose weight W [2,4] is external data with location `{location}` ({why}).",
        "Must be rejected by the loader before any file is opened: external data locations must be relative "
        "and must not contain `..` (error about an invalid/unsafe external data location for tensor `W`). "
        f"(onnxruntime: `{err}`)",
    ))


def constant_weights():
    stem = "constant_weights"
    rng = rng_for(stem)
    w = randn(rng, 4, 3, 3, 3, scale=0.3)
    b = randn(rng, 4, scale=0.2)
    x = randn(rng, 2, 3, 6, 6)
    nodes = [
        helper.make_node("Constant", [], ["W"], name="const_w", value=numpy_helper.from_array(w, "W_value")),
        helper.make_node("Constant", [], ["B"], name="const_b", value=numpy_helper.from_array(b, "B_value")),
        helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(nodes, stem, [tensor_info("x", TensorProto.FLOAT, [2, 3, 6, 6])],
                              [tensor_info("y", TensorProto.FLOAT, [2, 4, 6, 6])])
    model = model_from(graph)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path(f"{stem}.onnx"))
    outs = write_reference(stem, [("x", x)])
    INDEX.append((
        f"`{stem}.onnx`, `.input_0.npy`, `.output_0.npy`",
        "Conv(3x3 p1)+Relu, opset 13, with no initializers: W [4,3,3,3] and B [4] come from Constant nodes "
        "(value = TensorProto) placed before the Conv, as in PP-OCR exports.",
        f"Loads and runs (Constant outputs become constants / fold). Output {shapes(outs)} matches `.output_0.npy`.",
    ))


def typed_data():
    stem = "typed_data"
    rng = rng_for(stem)
    w = randn(rng, 4, 3, 3, 3, scale=0.3)
    b = randn(rng, 4, scale=0.2)
    shape = np.array([2, -1], np.int64)
    mask = rng.random(100) < 0.6
    x = randn(rng, 2, 3, 5, 5)

    def float_tensor(arr, name):
        t = helper.make_tensor(name, TensorProto.FLOAT, arr.shape, arr.ravel().tolist(), raw=False)
        assert not t.HasField("raw_data") and len(t.float_data) == arr.size
        return t

    # numpy_helper writes raw_data; move the values into the typed fields by hand for the other two.
    shape_t = numpy_helper.from_array(shape, "shape")
    shape_t.ClearField("raw_data")
    shape_t.int64_data.extend(int(v) for v in shape)
    mask_t = numpy_helper.from_array(mask, "mask")
    mask_t.ClearField("raw_data")
    mask_t.int32_data.extend(int(v) for v in mask)  # BOOL values travel in int32_data

    for t, arr in ((shape_t, shape), (mask_t, mask)):
        assert np.array_equal(numpy_helper.to_array(t), arr)

    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape"),
        helper.make_node("Cast", ["mask"], ["m"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["r", "m"], ["y"], name="mul"),
    ]
    graph = helper.make_graph(
        nodes, stem, [tensor_info("x", TensorProto.FLOAT, [2, 3, 5, 5])], [tensor_info("y", TensorProto.FLOAT, [2, 100])],
        initializer=[float_tensor(w, "W"), float_tensor(b, "B"), shape_t, mask_t],
    )
    model = model_from(graph)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path(f"{stem}.onnx"))
    reloaded = onnx.load(path(f"{stem}.onnx"))
    assert not any(t.HasField("raw_data") for t in reloaded.graph.initializer)
    outs = write_reference(stem, [("x", x)])
    INDEX.append((
        f"`{stem}.onnx`, `.input_0.npy`, `.output_0.npy`",
        "Conv(3x3 p1) -> Reshape([2,-1]) -> Mul by Cast(mask to float). No initializer uses raw_data: W [4,3,3,3] "
        "and B [4] are in `float_data`, the Reshape shape [2] int64 is in `int64_data`, and the BOOL mask [100] "
        "is in `int32_data` (one 0/1 per element).",
        f"Loads (decoding float_data / int64_data / int32_data-as-bool). Output {shapes(outs)} matches "
        "`.output_0.npy` (about 40% of columns are zero).",
    ))


# --------------------------------------------------------------------------------------------
# Invalid models
# --------------------------------------------------------------------------------------------


def ort_error(model_path):
    """onnxruntime's complaint: at session creation, or else when run on zeros."""
    msg = _ort_error(model_path)
    return None if msg is None else msg.replace(ROOT + os.sep, "").replace("|", "/")


def _ort_error(model_path):
    try:
        sess = reference_session(model_path)
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0][:240]
    try:
        quiet = ort.RunOptions()
        quiet.log_severity_level = 4
        sess.run(None, {i.name: np.zeros(i.shape, np.float32) for i in sess.get_inputs()}, quiet)
    except Exception as exc:  # noqa: BLE001
        return "session loads, run fails: " + str(exc).splitlines()[0][:240]
    return None


def checker_error(model):
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # noqa: BLE001
        return str(exc).replace("\n", " ").strip()[:200]
    return None


def save_invalid(stem, model, what, expect):
    onnx.save(model, path(f"{stem}.onnx"))
    err = ort_error(path(f"{stem}.onnx"))
    assert err is not None, f"onnxruntime accepted {stem}"
    chk = checker_error(model)
    chk = "accepts it (full_check), so our validator must check this itself" if chk is None else f"`{chk}`"
    INDEX.append((f"`{stem}.onnx`", what, expect + f". onnx.checker: {chk}. onnxruntime: `{err}`"))


def invalid_models():
    # Unknown operator.
    graph = helper.make_graph(
        [helper.make_node("FrobnicateX", ["x"], ["y"], name="bad_node")], "unknown_op",
        [tensor_info("x", TensorProto.FLOAT, [1, 3])], [tensor_info("y", TensorProto.FLOAT, [1, 3])],
    )
    save_invalid("unknown_op", model_from(graph),
                 "Single node `bad_node` of op type `FrobnicateX` in the default domain, opset 13.",
                 "Validation fails with an unsupported-operator error naming `FrobnicateX` and node `bad_node`")

    # Node consuming a tensor nobody produces.
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Add", ["r", "ghost"], ["y"], name="add")],
        "missing_input", [tensor_info("x", TensorProto.FLOAT, [2, 3])], [tensor_info("y", TensorProto.FLOAT, [2, 3])],
    )
    save_invalid("missing_input", model_from(graph),
                 "Relu(x) -> Add(r, `ghost`): `ghost` is neither a graph input, an initializer nor a node output.",
                 "Validation fails: node `add` input `ghost` is undefined")

    # Two nodes feeding each other.
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "t2"], ["t1"], name="add"), helper.make_node("Relu", ["t1"], ["t2"], name="relu")],
        "cycle", [tensor_info("x", TensorProto.FLOAT, [2, 3])], [tensor_info("t2", TensorProto.FLOAT, [2, 3])],
    )
    save_invalid("cycle", model_from(graph),
                 "Add(x, t2) -> t1 and Relu(t1) -> t2: a cycle (also not topologically sorted). Built without check_model.",
                 "Validation fails: the graph has a cycle / a node input (`t2`) is used before it is produced")

    # Conv whose weight has the wrong rank.
    rng = rng_for("rank_mismatch")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
        "rank_mismatch", [tensor_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [tensor_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        initializer=[numpy_helper.from_array(randn(rng, 4, 3, 3), "W")],
    )
    save_invalid("rank_mismatch", model_from(graph),
                 "Conv with a declared 4-D input x [1,3,8,8] but a rank-3 weight initializer W [4,3,3].",
                 "Validation (shape inference) fails: Conv weight rank 3 does not match input rank 4")

    # Add of float32 and int64.
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "k"], ["y"], name="add")], "type_mismatch",
        [tensor_info("x", TensorProto.FLOAT, [2, 3])], [tensor_info("y", TensorProto.FLOAT, [2, 3])],
        initializer=[numpy_helper.from_array(np.array([1, 2, 3], np.int64), "k")],
    )
    save_invalid("type_mismatch", model_from(graph),
                 "Add of float32 input x [2,3] and int64 initializer k [3].",
                 "Validation fails: Add inputs have different element types (float32 vs int64)")

    # Truncated protobuf.
    valid = open(path("constant_weights.onnx"), "rb").read()
    cut = valid[:100]
    try:
        onnx.load_from_string(cut)
        parses = True
    except Exception:  # noqa: BLE001 - expected: protobuf DecodeError
        parses = False
    assert not parses, "truncated.onnx still parses"
    with open(path("truncated.onnx"), "wb") as f:
        f.write(cut)
    err = ort_error(path("truncated.onnx"))
    assert err is not None
    INDEX.append(("`truncated.onnx`", f"The first 100 bytes of `constant_weights.onnx` ({len(valid)} bytes).",
                  f"Loading fails with a protobuf parse error (onnxruntime: `{err}`)"))

    # Not ONNX at all.
    with open(path("not_onnx.onnx"), "w") as f:
        f.write("This is not an ONNX model.\nIt is a plain text file with a .onnx extension.\n")
    err = ort_error(path("not_onnx.onnx"))
    assert err is not None
    INDEX.append(("`not_onnx.onnx`", "Plain ASCII text with a .onnx extension.",
                  f"Loading fails with a protobuf parse error or an empty/invalid model error "
                  f"(onnxruntime: `{err}`)"))


def relax_region():
    """An 'embedding' that sees only rows/cols 8..15 of a 32x32 image: RELAX's true importance."""
    stem = "relax_region"
    nodes = [
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["region"], name="crop"),
        helper.make_node("ReduceMean", ["region"], ["pooled"], name="pool", axes=[2, 3], keepdims=0),
        helper.make_node("Add", ["pooled", "offset"], ["embedding"], name="offset"),
    ]
    inits = [
        numpy_helper.from_array(np.array([8, 8], np.int64), "starts"),
        numpy_helper.from_array(np.array([16, 16], np.int64), "ends"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(np.array([0.5, -0.25, 0.75], np.float32), "offset"),
    ]
    graph = helper.make_graph(nodes, stem, [tensor_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [tensor_info("embedding", TensorProto.FLOAT, ["N", 3])], initializer=inits)
    model = model_from(graph)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path(f"{stem}.onnx"))
    INDEX.append((
        f"`{stem}.onnx`",
        "Input x [N,3,32,32]; embedding = mean of x over rows and columns 8..15 (Slice + ReduceMean) + a constant "
        "offset [0.5,-0.25,0.75], so masking changes its direction. No reference arrays.",
        "RELAX on any image must localise the 8x8 region: importance inside it exceeds importance outside.",
    ))


def main():
    if os.path.isdir(OUT_DIR):
        shutil.rmtree(OUT_DIR)
    os.makedirs(OUT_DIR)
    ir3_initializer_inputs()
    external_data()
    external_bad_location("external_abs_path", "/etc/passwd", "an absolute path")
    external_bad_location("external_dotdot", "../secret.bin", "escapes the model's folder")
    constant_weights()
    typed_data()
    relax_region()
    ort.set_default_logger_severity(4)  # the invalid models below make onnxruntime log errors
    invalid_models()

    lines = [
        "# Model fixtures",
        "",
        "Generated by `tools/make_model_fixtures.py` (regenerate: `.venv/bin/python tools/make_model_fixtures.py`).",
        f"onnx {onnx.__version__}, onnxruntime {ort.__version__} (CPU, ORT_DISABLE_ALL), numpy {np.__version__}.",
        "",
        "Reference tensors are `<model>.input_K.npy` (graph inputs without an initializer, in graph-input order)",
        "and `<model>.output_K.npy` (graph outputs, in order), computed by onnxruntime. Compare floats with a",
        "tolerance (rtol 1e-4, atol 1e-5).",
        "",
        "| files | what it is | what the Swift test should expect |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in INDEX]
    lines.append("")
    with open(path("INDEX.md"), "w") as f:
        f.write("\n".join(lines))
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT_DIR))
    for a, _, c in INDEX:
        print(f"{a}: {c[:150]}")
    print(f"{len(os.listdir(OUT_DIR))} files, {total} bytes in {OUT_DIR}")


if __name__ == "__main__":
    sys.exit(main())
