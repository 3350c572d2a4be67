#!/usr/bin/env python3
"""Generate one-op (and a few few-op) ONNX test models with onnxruntime reference outputs.

Regenerate (from the repository root):

    .venv/bin/python tools/make_op_fixtures.py

For every case this writes ``Tests/Fixtures/ops/<case>/`` containing

* ``model.onnx``   - the model, built with ``onnx.helper``;
* ``input_K.npy``  - one file per graph input that is not an initializer, in graph-input order;
* ``output_K.npy`` - one file per graph output, in order, computed by onnxruntime (CPU provider,
  graph optimisations disabled).

It also writes ``Tests/Fixtures/ops/INDEX.md``. Only float32, int64 and bool tensors are used.
Random data comes from a generator seeded with the CRC-32 of the case name, so adding or removing a
case does not change the others and reruns produce byte-identical files. Python is only needed to
regenerate; the Swift tests read the committed files.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from fixture_common import reference_session, rng_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "Tests", "Fixtures", "ops")
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.bool_): TensorProto.BOOL,
}


# --------------------------------------------------------------------------------------------
# Graph builder
# --------------------------------------------------------------------------------------------


@dataclass
class Builder:
    """Collects the pieces of one test graph."""

    rng: np.random.Generator
    nodes: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # ValueInfoProto, graph-input order
    feeds: list = field(default_factory=list)  # (name, array), same order as runtime inputs
    inits: list = field(default_factory=list)  # TensorProto
    outputs: list = field(default_factory=list)  # (name, onnx elem type, dims or None)
    _count: int = 0

    # ---- data helpers ------------------------------------------------------------------------
    def randn(self, *shape, scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def uniform(self, lo, hi, *shape):
        return self.rng.uniform(lo, hi, shape).astype(np.float32)

    def weight(self, *shape):
        """Conv/Gemm-style weight scaled by 1/sqrt(fan_in)."""
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]
        return self.randn(*shape, scale=1.0 / np.sqrt(max(fan_in, 1)))

    # ---- graph helpers -----------------------------------------------------------------------
    def input(self, name, array, dims=None):
        """A runtime graph input fed from ``array`` (``dims`` may carry symbolic names)."""
        array = np.array(array, order="C")  # (np.ascontiguousarray would turn 0-d into 1-d)
        elem = NP_TO_ONNX[array.dtype]
        shape = list(array.shape) if dims is None else dims
        self.inputs.append(helper.make_tensor_value_info(name, elem, shape))
        self.feeds.append((name, array))
        return name

    def init(self, name, array):
        array = np.asarray(array)
        assert array.dtype in NP_TO_ONNX, (name, array.dtype)
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, outputs, name=None, domain=None, **attrs):
        self._count += 1
        if name is None:
            name = f"{op.lower()}_{self._count}"
        n = helper.make_node(op, list(inputs), list(outputs), name=name, **attrs)
        if domain is not None:
            n.domain = domain
        self.nodes.append(n)
        return outputs[0] if len(outputs) == 1 else outputs

    def output(self, name, dtype=np.float32, dims=None):
        """A graph output. ``dims`` None = filled in from the reference result."""
        self.outputs.append((name, NP_TO_ONNX[np.dtype(dtype)], dims))
        return name


@dataclass
class Case:
    name: str
    desc: str
    opset: int
    build: Callable[[Builder], None]
    note: str = ""
    declare_shapes: bool = True  # False: declare output spatial dims as unknown


CASES: list[Case] = []


def case(name, desc, opset=13, note="", declare_shapes=True):
    def register(fn):
        assert all(c.name != name for c in CASES), name
        CASES.append(Case(name, desc, opset, fn, note, declare_shapes))
        return fn

    return register


# --------------------------------------------------------------------------------------------
# Conv
# --------------------------------------------------------------------------------------------


def conv_case(name, desc, n, cin, hw, cout, k, bias=True, group=1, weights_as_inputs=False, **attrs):
    kh, kw = (k, k) if isinstance(k, int) else k
    h, w = (hw, hw) if isinstance(hw, int) else hw

    @case(name, desc)
    def _(g: Builder):
        x = g.input("x", g.randn(n, cin, h, w))
        wt = g.weight(cout, cin // group, kh, kw)
        if weights_as_inputs:
            ins = [x, g.input("W", wt)]
        else:
            ins = [x, g.init("W", wt)]
        if bias:
            b = g.randn(cout, scale=0.5)
            ins.append(g.input("B", b) if weights_as_inputs else g.init("B", b))
        if group != 1:
            attrs["group"] = group
        g.node("Conv", ins, ["y"], kernel_shape=[kh, kw], **attrs)
        g.output("y")


conv_case("conv_3x3_pad1", "3x3, pads 1, stride 1, bias; N=2 C=3->4 8x8", 2, 3, 8, 4, 3, pads=[1, 1, 1, 1])
conv_case("conv_3x3_stride2", "3x3, pads 1, stride 2, bias; 9x9 -> 5x5",
          2, 3, 9, 4, 3, pads=[1, 1, 1, 1], strides=[2, 2])
conv_case("conv_3x3_stride2_even", "3x3, pads 1, stride 2, bias; 8x8 -> 4x4",
          1, 3, 8, 4, 3, pads=[1, 1, 1, 1], strides=[2, 2])
conv_case("conv_asym_pads", "3x3 stride 1 with asymmetric pads [0,1,1,2] (top,left,bottom,right); 7x6 -> 6x7",
          2, 3, (7, 6), 4, 3, pads=[0, 1, 1, 2])
conv_case("conv_no_bias", "3x3 pads 1 without the optional bias input", 2, 3, 8, 4, 3, bias=False, pads=[1, 1, 1, 1])
conv_case("conv_1x1", "1x1 stride 1 (pointwise), bias; C=8->6", 2, 8, 6, 6, 1)
conv_case("conv_1x1_stride2", "1x1 stride 2, bias; 7x7 -> 4x4", 2, 8, 7, 6, 1, strides=[2, 2])
conv_case("conv_group2", "grouped conv group=2, C=4->6, 3x3 pads 1", 2, 4, 7, 6, 3, group=2, pads=[1, 1, 1, 1])
conv_case("conv_group3_stride2", "grouped conv group=3, C=6->9, 3x3 pads 1 stride 2",
          1, 6, 8, 9, 3, group=3, pads=[1, 1, 1, 1], strides=[2, 2])
conv_case("conv_depthwise", "depthwise: group=C_in=C_out=6, 3x3 pads 1 stride 1",
          2, 6, 8, 6, 3, group=6, pads=[1, 1, 1, 1])
conv_case("conv_depthwise_stride2", "depthwise: group=C=6, 3x3 pads 1 stride 2; 9x9 -> 5x5",
          2, 6, 9, 6, 3, group=6, pads=[1, 1, 1, 1], strides=[2, 2])
conv_case("conv_depthwise_mult2", "depthwise with channel multiplier 2: group=C_in=4, C_out=8, 3x3 pads 1",
          2, 4, 7, 8, 3, group=4, pads=[1, 1, 1, 1])
conv_case("conv_depthwise_mult2_stride2", "depthwise, multiplier 2 (C_in=4 -> 8, group 4), 3x3 pads 1 stride 2",
          1, 4, 8, 8, 3, group=4, pads=[1, 1, 1, 1], strides=[2, 2])
conv_case("conv_depthwise_5x5", "depthwise group=C=4, 5x5 pads 2 stride 1, no bias",
          1, 4, 9, 4, 5, bias=False, group=4, pads=[2, 2, 2, 2])
conv_case("conv_dilation2", "3x3 dilations 2 pads 2 (same size), bias",
          2, 3, 9, 4, 3, dilations=[2, 2], pads=[2, 2, 2, 2])
conv_case("conv_dilation2_nopad", "3x3 dilations 2, no padding; 9x9 -> 5x5", 1, 3, 9, 4, 3, dilations=[2, 2])
conv_case("conv_1x7", "kernel 1x7 with pads [0,3,0,3]", 2, 3, (5, 9), 4, (1, 7), pads=[0, 3, 0, 3])
conv_case("conv_7x1", "kernel 7x1 with pads [3,0,3,0]", 2, 3, (9, 5), 4, (7, 1), pads=[3, 0, 3, 0])
conv_case("conv_5x5_stride2", "5x5 pads 2 stride 2; 11x11 -> 6x6", 2, 3, 11, 4, 5, pads=[2, 2, 2, 2], strides=[2, 2])
conv_case("conv_7x7_stride2", "7x7 pads 3 stride 2 (ResNet stem shape, small); 12x12 -> 6x6",
          1, 3, 12, 4, 7, pads=[3, 3, 3, 3], strides=[2, 2])
conv_case("conv_auto_same_upper", "3x3 stride 2 auto_pad SAME_UPPER on 8x8 (total pad 1, at the end)",
          2, 3, 8, 4, 3, auto_pad="SAME_UPPER", strides=[2, 2])
conv_case("conv_auto_same_lower", "3x3 stride 2 auto_pad SAME_LOWER on 8x8 (total pad 1, at the start)",
          2, 3, 8, 4, 3, auto_pad="SAME_LOWER", strides=[2, 2])
conv_case("conv_auto_same_upper_s1", "4x4 stride 1 auto_pad SAME_UPPER (even kernel: pads 1 before, 2 after)",
          1, 3, 7, 4, 4, auto_pad="SAME_UPPER")
conv_case("conv_auto_valid", "3x3 stride 1 auto_pad VALID; 8x8 -> 6x6", 2, 3, 8, 4, 3, auto_pad="VALID")
conv_case("conv_batch3", "3x3 pads 1 with batch 3", 3, 3, 6, 4, 3, pads=[1, 1, 1, 1])
conv_case("conv_weights_as_inputs", "3x3 pads 1 with W and B as graph inputs (input_1, input_2), not initializers",
          2, 3, 6, 4, 3, weights_as_inputs=True, pads=[1, 1, 1, 1])
conv_case("conv_winograd", "3x3 pads 1 stride 1, C=32->32 on 23x23: Winograd F(2x2,3x3), partial edge tiles",
          1, 32, 23, 32, 3, pads=[1, 1, 1, 1])
conv_case("conv_winograd_uneven_pads", "3x3 pads [1,0,0,1] stride 1, C=24->20 on 19x15: Winograd, uneven pads",
          1, 24, (19, 15), 20, 3, pads=[1, 0, 0, 1])
conv_case("conv_rect_stride", "3x3 with strides [1,2] and pads [1,1,1,1] on 6x9",
          2, 3, (6, 9), 4, 3, pads=[1, 1, 1, 1], strides=[1, 2])


# --------------------------------------------------------------------------------------------
# Unary activations and math
# --------------------------------------------------------------------------------------------


def unary_case(name, desc, op, opset=13, data=None, **attrs):
    @case(name, desc, opset)
    def _(g: Builder):
        x = g.input("x", data(g) if data else g.randn(2, 3, 4, 5, scale=2.0))
        g.node(op, [x], ["y"], **attrs)
        g.output("y")


unary_case("relu", "Relu on [2,3,4,5]", "Relu")
unary_case("sigmoid", "Sigmoid on [2,3,4,5] (values up to about +-8)", "Sigmoid")
unary_case("hardsigmoid_default", "HardSigmoid default alpha=0.2 beta=0.5, inputs span the clip points", "HardSigmoid",
           data=lambda g: g.uniform(-4, 4, 2, 3, 4, 5))
unary_case("hardsigmoid_custom", "HardSigmoid alpha=1/6 beta=0.5 (as in HardSwish exports)", "HardSigmoid",
           data=lambda g: g.uniform(-5, 5, 2, 3, 4, 5), alpha=1.0 / 6.0, beta=0.5)
unary_case("hardswish", "HardSwish (opset 14), inputs span -4..4", "HardSwish", opset=14,
           data=lambda g: g.uniform(-4.5, 4.5, 2, 3, 4, 5))
unary_case("erf", "Erf on [2,3,4,5]", "Erf")
unary_case("sqrt", "Sqrt on positive inputs", "Sqrt", data=lambda g: g.uniform(0.01, 9.0, 2, 3, 4, 5))
unary_case("gelu_none", "Gelu opset 20, approximate='none' (erf form)", "Gelu", opset=20, approximate="none")
unary_case("gelu_tanh", "Gelu opset 20, approximate='tanh'", "Gelu", opset=20, approximate="tanh")
unary_case("identity", "Identity", "Identity")


@case("pow_scalar_exponent", "Pow with a float scalar exponent 1.5 (initializer, shape []); positive base")
def _(g: Builder):
    x = g.input("x", g.uniform(0.1, 4.0, 2, 3, 4, 5))
    g.node("Pow", [x, g.init("e", np.array(1.5, np.float32))], ["y"])
    g.output("y")


@case("pow_square", "Pow with exponent 2.0 (scalar initializer) on signed base")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5))
    g.node("Pow", [x, g.init("e", np.array(2.0, np.float32))], ["y"])
    g.output("y")


@case("pow_tensor_exponent", "Pow with a broadcast tensor exponent [5] (graph input); positive base")
def _(g: Builder):
    x = g.input("x", g.uniform(0.2, 3.0, 2, 3, 4, 5))
    e = g.input("e", g.uniform(-2.0, 2.0, 5))
    g.node("Pow", [x, e], ["y"])
    g.output("y")


@case("clip_opset6_attrs", "Clip-6 with min=-1.0 / max=2.5 attributes (model opset 6)", opset=6)
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5, scale=2.0))
    g.node("Clip", [x], ["y"], min=-1.0, max=2.5)
    g.output("y")


@case("clip_opset6_relu6", "Clip-6 with min=0 max=6 (ReLU6, model opset 6)", opset=6)
def _(g: Builder):
    x = g.input("x", g.uniform(-3, 9, 2, 3, 4, 5))
    g.node("Clip", [x], ["y"], min=0.0, max=6.0)
    g.output("y")


@case("clip_inputs", "Clip-13 with min=-0.5 and max=1.0 as scalar initializer inputs")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5, scale=2.0))
    g.node("Clip", [x, g.init("lo", np.array(-0.5, np.float32)), g.init("hi", np.array(1.0, np.float32))], ["y"])
    g.output("y")


@case("clip_only_max", "Clip-13 with min omitted (empty input name \"\") and max=0.75")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5, scale=2.0))
    g.node("Clip", [x, "", g.init("hi", np.array(0.75, np.float32))], ["y"])
    g.output("y")


@case("clip_no_bounds", "Clip-13 with no min/max inputs (identity)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5, scale=2.0))
    g.node("Clip", [x], ["y"])
    g.output("y")


@case("clip_relu6_constant_nodes", "Clip-13 whose min/max come from Constant nodes (TorchScript ReLU6 pattern)")
def _(g: Builder):
    x = g.input("x", g.uniform(-3, 9, 2, 3, 4, 5))
    g.node("Constant", [], ["lo"], value=numpy_helper.from_array(np.array(0.0, np.float32), "lo_v"))
    g.node("Constant", [], ["hi"], value=numpy_helper.from_array(np.array(6.0, np.float32), "hi_v"))
    g.node("Clip", [x, "lo", "hi"], ["y"])
    g.output("y")


# --------------------------------------------------------------------------------------------
# Elementwise binary ops with broadcasting
# --------------------------------------------------------------------------------------------

BROADCASTS = [
    ("same", (2, 3, 4, 5), (2, 3, 4, 5), "same shape [2,3,4,5]"),
    ("bcast_last", (2, 3, 4, 5), (5,), "[2,3,4,5] op [5]"),
    ("bcast_channel", (2, 3, 4, 5), (3, 1, 1), "[2,3,4,5] op [3,1,1]"),
    ("bcast_both", (1, 3, 1, 5), (2, 1, 4, 1), "[1,3,1,5] op [2,1,4,1] -> [2,3,4,5]"),
    ("scalar", (2, 3, 4, 5), (), "[2,3,4,5] op scalar (shape [])"),
]


def binary_case(op, tag, sa, sb, desc):
    @case(f"{op.lower()}_{tag}", f"{op} float32, {desc}; both operands are graph inputs")
    def _(g: Builder):
        a = g.input("a", g.randn(*sa))
        if op == "Div":
            mag = g.uniform(0.5, 2.0, *sb)
            sign = np.where(g.rng.random(sb) < 0.5, -1.0, 1.0).astype(np.float32)
            b = np.asarray(mag * sign, np.float32)
        else:
            b = g.randn(*sb)
        g.node(op, [a, g.input("b", b)], ["y"])
        g.output("y")


for _op in ("Add", "Sub", "Mul", "Div"):
    for _tag, _sa, _sb, _desc in BROADCASTS:
        binary_case(_op, _tag, _sa, _sb, _desc)


@case("add_initializer_bias", "Add of x [2,3,4,5] and a [3,1,1] initializer (bias-like)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5))
    g.node("Add", [x, g.init("bias", g.randn(3, 1, 1))], ["y"])
    g.output("y")


@case("sub_scalar_first", "Sub with a scalar first operand: scalar - [2,3,4] (broadcast on the left)")
def _(g: Builder):
    a = g.input("a", np.array(1.25, np.float32))
    b = g.input("b", g.randn(2, 3, 4))
    g.node("Sub", [a, b], ["y"])
    g.output("y")


def int_binary_case(op, desc):
    @case(f"{op.lower()}_int64", f"{op} int64 on [12] op [12] with mixed signs; {desc}")
    def _(g: Builder):
        a = g.rng.integers(-50, 51, 12).astype(np.int64)
        a[:4] = [7, -7, 7, -7]
        if op == "Div":
            b = g.rng.integers(1, 8, 12).astype(np.int64) * np.where(g.rng.random(12) < 0.5, -1, 1)
            b[:4] = [2, 2, -2, -2]
        else:
            b = g.rng.integers(-20, 21, 12).astype(np.int64)
        g.node(op, [g.input("a", a), g.input("b", b.astype(np.int64))], ["y"])
        g.output("y", np.int64)


int_binary_case("Add", "plain integer add")
int_binary_case("Mul", "plain integer multiply")
int_binary_case("Div", "integer division truncates toward zero (7/-2 = -3)")


@case("add_int64_bcast", "Add int64 [2,3] + int64 scalar initializer 10")
def _(g: Builder):
    a = g.input("a", g.rng.integers(-100, 100, (2, 3)).astype(np.int64))
    g.node("Add", [a, g.init("k", np.array(10, np.int64))], ["y"])
    g.output("y", np.int64)


@case("sum_3_bcast", "Sum of 3 inputs with broadcasting: [2,3,4,5] + [3,1,1] + [5]")
def _(g: Builder):
    a = g.input("a", g.randn(2, 3, 4, 5))
    b = g.input("b", g.randn(3, 1, 1))
    c = g.input("c", g.randn(5))
    g.node("Sum", [a, b, c], ["y"])
    g.output("y")


@case("sum_1", "Sum with a single input (copy)")
def _(g: Builder):
    g.node("Sum", [g.input("a", g.randn(2, 3, 4))], ["y"])
    g.output("y")


# --------------------------------------------------------------------------------------------
# Gemm and MatMul
# --------------------------------------------------------------------------------------------


def gemm_case(name, desc, m=3, k=5, n=4, trans_a=0, trans_b=0, c_shape=(4,), alpha=None, beta=None, as_inputs=False):
    @case(name, desc)
    def _(g: Builder):
        a = g.randn(*((k, m) if trans_a else (m, k)))
        b = g.weight(*((n, k) if trans_b else (k, n)))
        ins = [g.input("A", a)]
        ins.append(g.input("B", b) if as_inputs else g.init("B", b))
        if c_shape is not None:
            c = g.randn(*c_shape)
            ins.append(g.input("C", c) if as_inputs else g.init("C", c))
        attrs = {}
        if trans_a:
            attrs["transA"] = 1
        if trans_b:
            attrs["transB"] = 1
        if alpha is not None:
            attrs["alpha"] = alpha
        if beta is not None:
            attrs["beta"] = beta
        g.node("Gemm", ins, ["Y"], **attrs)
        g.output("Y")


gemm_case("gemm_plain", "Gemm A[3,5] B[5,4] (initializer) + C[4]")
gemm_case("gemm_transA", "Gemm transA=1: A[5,3]^T B[5,4] + C[4]", trans_a=1)
gemm_case("gemm_transB_biasN", "Gemm transB=1 (Linear layer): A[3,5] B[4,5]^T + C[4]", trans_b=1)
gemm_case("gemm_transA_transB", "Gemm transA=1 transB=1, C[4]", trans_a=1, trans_b=1)
gemm_case("gemm_alpha_beta", "Gemm alpha=0.5 beta=2.0, C[3,4]", c_shape=(3, 4), alpha=0.5, beta=2.0)
gemm_case("gemm_bias_MN", "Gemm C of shape [M,N]=[3,4]", c_shape=(3, 4))
gemm_case("gemm_bias_1N", "Gemm C of shape [1,N]=[1,4]", c_shape=(1, 4))
gemm_case("gemm_bias_M1", "Gemm C of shape [M,1]=[3,1] (column broadcast)", c_shape=(3, 1))
gemm_case("gemm_bias_scalar", "Gemm C scalar (shape []) with beta=0.5", c_shape=(), beta=0.5)
gemm_case("gemm_no_bias", "Gemm with C omitted, transB=1", trans_b=1, c_shape=None)
gemm_case("gemm_inputs", "Gemm transB=1 with A, B, C all graph inputs", trans_b=1, as_inputs=True)
gemm_case("gemm_batch_head", "Gemm transB=1 as a classifier head: A[2,16] B[10,16] C[10]", m=2, k=16, n=10, trans_b=1, c_shape=(10,))


def matmul_case(name, desc, sa, sb, b_init=False):
    @case(name, desc)
    def _(g: Builder):
        a = g.input("A", g.randn(*sa))
        b = g.weight(*sb) if len(sb) >= 2 else g.randn(*sb)
        g.node("MatMul", [a, g.init("B", b) if b_init else g.input("B", b)], ["Y"])
        g.output("Y")


matmul_case("matmul_2d", "MatMul [3,5] x [5,4]", (3, 5), (5, 4))
matmul_case("matmul_2d_init", "MatMul [3,5] x initializer [5,4]", (3, 5), (5, 4), b_init=True)
matmul_case("matmul_batched_3d", "MatMul batched [2,3,5] x [2,5,4]", (2, 3, 5), (2, 5, 4))
matmul_case("matmul_3d_2d", "MatMul broadcast [2,3,5] x [5,4]", (2, 3, 5), (5, 4))
matmul_case("matmul_2d_3d", "MatMul broadcast [3,5] x [2,5,4]", (3, 5), (2, 5, 4))
matmul_case("matmul_4d_bcast", "MatMul broadcast batch dims [2,1,3,5] x [1,3,5,4] -> [2,3,3,4]", (2, 1, 3, 5), (1, 3, 5, 4))
matmul_case("matmul_1d_2d", "MatMul [5] x [5,4] -> [4] (1-D promoted then squeezed)", (5,), (5, 4))
matmul_case("matmul_2d_1d", "MatMul [3,5] x [5] -> [3]", (3, 5), (5,))
matmul_case("matmul_1d_1d", "MatMul [5] x [5] -> scalar []", (5,), (5,))


# --------------------------------------------------------------------------------------------
# Pooling and reductions
# --------------------------------------------------------------------------------------------


def pool_case(name, desc, op, shape, data=None, opset=13, note="", declare_shapes=True, **attrs):
    @case(name, desc, opset, note=note, declare_shapes=declare_shapes)
    def _(g: Builder):
        x = g.input("x", data(g, shape) if data else g.randn(*shape))
        g.node(op, [x], ["y"], **attrs)
        g.output("y")


def negative(g, shape):
    return -(np.abs(g.randn(*shape)) + 0.1).astype(np.float32)


CEIL_EDGE_NOTE = (
    "onnx shape inference before opset 22 claims 4x4; onnxruntime, onnx.reference and PyTorch give 3x3, "
    "so the model leaves the output's spatial dims unknown"
)


pool_case("maxpool_3x3_s2_p1", "MaxPool 3x3 stride 2 pads 1 on 9x9 -> 5x5", "MaxPool", (2, 3, 9, 9),
          kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
pool_case("maxpool_3x3_s2_p1_negative", "MaxPool 3x3 s2 p1 on all-negative input: padding must act as -inf, not 0",
          "MaxPool", (2, 3, 8, 8), data=negative, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
pool_case("maxpool_2x2_s2", "MaxPool 2x2 stride 2 on 8x8", "MaxPool", (2, 3, 8, 8), kernel_shape=[2, 2], strides=[2, 2])
pool_case("maxpool_2x2_s2_odd", "MaxPool 2x2 stride 2 on 7x7 (floor: last row/col dropped)", "MaxPool", (1, 3, 7, 7),
          kernel_shape=[2, 2], strides=[2, 2])
pool_case("maxpool_ceil", "MaxPool 3x3 stride 2 ceil_mode=1, no pads, 14x14 -> 7x7 (floor would give 6x6)",
          "MaxPool", (2, 3, 14, 14), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
pool_case("maxpool_ceil_13", "MaxPool 3x3 s2 ceil_mode=1 on 13x13 (ceil == floor here: 6x6)", "MaxPool", (1, 2, 13, 13),
          kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
pool_case("maxpool_ceil_pad_edge",
          "MaxPool 2x2 s2 pads 1 ceil_mode=1 on 5x5: a 4th window would start in the right padding and is dropped -> 3x3",
          "MaxPool", (1, 2, 5, 5), kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
          note=CEIL_EDGE_NOTE, declare_shapes=False)
pool_case("maxpool_asym_pads", "MaxPool 3x3 stride 1 pads [0,1,1,2]", "MaxPool", (2, 3, 6, 6), kernel_shape=[3, 3], pads=[0, 1, 1, 2])
pool_case("maxpool_dilation2", "MaxPool 2x2 dilations 2 stride 1 on 7x7 -> 5x5", "MaxPool", (2, 3, 7, 7),
          kernel_shape=[2, 2], dilations=[2, 2])
pool_case("maxpool_same_upper", "MaxPool 3x3 stride 2 auto_pad SAME_UPPER on 8x8 (pad 1 at the end)", "MaxPool", (2, 3, 8, 8),
          kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
pool_case("maxpool_same_lower", "MaxPool 3x3 stride 2 auto_pad SAME_LOWER on 8x8 (pad 1 at the start)", "MaxPool", (1, 3, 8, 8),
          kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER")
pool_case("maxpool_opset8", "MaxPool-8 (model opset 8) 3x3 s2 p1", "MaxPool", (1, 3, 9, 9), opset=8,
          kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])

pool_case("avgpool_3x3_s1_p1_excl", "AveragePool 3x3 s1 pads 1 count_include_pad=0", "AveragePool", (2, 3, 6, 6),
          kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0)
pool_case("avgpool_3x3_s1_p1_incl", "AveragePool 3x3 s1 pads 1 count_include_pad=1 (DenseNet/Inception)", "AveragePool", (2, 3, 6, 6),
          kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
pool_case("avgpool_ceil_excl", "AveragePool 3x3 s2 pads 1 ceil_mode=1 count_include_pad=0 on 14x14 -> 8x8", "AveragePool",
          (2, 3, 14, 14), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=0)
pool_case("avgpool_ceil_incl",
          "AveragePool 3x3 s2 pads 1 ceil_mode=1 count_include_pad=1 on 14x14 -> 8x8 (last window overhangs the padding)",
          "AveragePool", (2, 3, 14, 14), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)
pool_case("avgpool_ceil_nopad", "AveragePool 3x3 s2 ceil_mode=1 no pads on 14x14 -> 7x7 (partial last window)", "AveragePool",
          (1, 3, 14, 14), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
pool_case("avgpool_ceil_pad_edge_incl",
          "AveragePool 2x2 s2 pads 1 ceil_mode=1 count_include_pad=1 on 5x5: window starting in the right padding dropped -> 3x3",
          "AveragePool", (1, 2, 5, 5), kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1,
          note=CEIL_EDGE_NOTE, declare_shapes=False)
pool_case("avgpool_2x2_s2", "AveragePool 2x2 stride 2 on 8x8", "AveragePool", (2, 3, 8, 8), kernel_shape=[2, 2], strides=[2, 2])
pool_case("avgpool_asym_pads_incl", "AveragePool 3x3 s1 pads [0,1,1,2] count_include_pad=1", "AveragePool", (1, 3, 6, 6),
          kernel_shape=[3, 3], pads=[0, 1, 1, 2], count_include_pad=1)
pool_case("avgpool_same_upper", "AveragePool 3x3 s2 auto_pad SAME_UPPER on 8x8 (count_include_pad=0)", "AveragePool", (1, 3, 8, 8),
          kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
pool_case("globalavgpool", "GlobalAveragePool, batch 2, [2,4,5,6] -> [2,4,1,1]", "GlobalAveragePool", (2, 4, 5, 6))


def reducemean_case(name, desc, shape, opset=13, axes_input=None, **attrs):
    @case(name, desc, opset)
    def _(g: Builder):
        x = g.input("x", g.randn(*shape))
        ins = [x]
        if axes_input is not None:
            ins.append(g.init("axes", np.array(axes_input, np.int64)))
        g.node("ReduceMean", ins, ["y"], **attrs)
        g.output("y")


reducemean_case("reducemean_hw_keep", "ReduceMean-13 axes=[2,3] keepdims=1", (2, 3, 4, 5), axes=[2, 3], keepdims=1)
reducemean_case("reducemean_hw_nokeep", "ReduceMean-13 axes=[2,3] keepdims=0 -> [2,3]", (2, 3, 4, 5), axes=[2, 3], keepdims=0)
reducemean_case("reducemean_neg_axes", "ReduceMean-13 axes=[-1,-2] keepdims=0 (negative axes)", (2, 3, 4, 5), axes=[-1, -2], keepdims=0)
reducemean_case("reducemean_axis1_default_keep", "ReduceMean-13 axes=[1], keepdims default (1)", (2, 3, 4, 5), axes=[1])
reducemean_case("reducemean_all", "ReduceMean-13 without axes: all reduced, keepdims default -> [1,1,1,1]", (2, 3, 4, 5))
reducemean_case("reducemean_all_nokeep", "ReduceMean-13 without axes, keepdims=0 -> scalar []", (2, 3, 4), keepdims=0)
reducemean_case("reducemean_opset18_axes_input", "ReduceMean-18 axes [2,3] as an initializer input, keepdims=0 (dynamo head)",
                (2, 3, 4, 5), opset=18, axes_input=[2, 3], keepdims=0)
reducemean_case("reducemean_opset18_axes_input_keep", "ReduceMean-18 axes [-1] as input, keepdims=1", (2, 3, 4, 5), opset=18,
                axes_input=[-1], keepdims=1)
reducemean_case("reducemean_opset18_no_axes", "ReduceMean-18 with no axes input: all reduced, keepdims=1", (2, 3, 4, 5), opset=18)


# --------------------------------------------------------------------------------------------
# Shape manipulation
# --------------------------------------------------------------------------------------------


def flatten_case(name, desc, axis):
    @case(name, desc)
    def _(g: Builder):
        x = g.input("x", g.randn(2, 3, 4, 5))
        attrs = {} if axis is None else {"axis": axis}
        g.node("Flatten", [x], ["y"], **attrs)
        g.output("y")


flatten_case("flatten_axis1", "Flatten axis=1 on [2,3,4,5] -> [2,60]", 1)
flatten_case("flatten_default", "Flatten without axis attribute (default 1) -> [2,60]", None)
flatten_case("flatten_axis0", "Flatten axis=0 -> [1,120]", 0)
flatten_case("flatten_axis3", "Flatten axis=3 -> [24,5]", 3)
flatten_case("flatten_axis_neg", "Flatten axis=-2 -> [6,20]", -2)


def reshape_case(name, desc, shape_in, target, opset=13, target_as_input=False, **attrs):
    @case(name, desc, opset)
    def _(g: Builder):
        x = g.input("x", g.randn(*shape_in))
        t = np.array(target, np.int64)
        s = g.input("shape", t) if target_as_input else g.init("shape", t)
        g.node("Reshape", [x, s], ["y"], **attrs)
        g.output("y")


reshape_case("reshape_zero_neg1", "Reshape [2,3,4,5] with shape [0,-1] (0 copies dim 0) -> [2,60]", (2, 3, 4, 5), [0, -1])
reshape_case("reshape_zero_mid", "Reshape [2,3,4,5] with shape [0,0,-1] -> [2,3,20]", (2, 3, 4, 5), [0, 0, -1])
reshape_case("reshape_neg1_first", "Reshape [2,3,4,5] with shape [-1,10] -> [12,10]", (2, 3, 4, 5), [-1, 10])
reshape_case("reshape_explicit", "Reshape [2,3,4,5] to [4,30]", (2, 3, 4, 5), [4, 30])
reshape_case("reshape_shape_input", "Reshape with the shape [3,-1,2] supplied as an int64 graph input (input_1)", (2, 3, 4, 5),
             [3, -1, 2], target_as_input=True)
reshape_case("reshape_allowzero", "Reshape-14 allowzero=1 with shape [2,-1] (no zeros in shape, plain reshape)", (2, 3, 4, 5),
             [2, -1], opset=14, allowzero=1)
reshape_case("reshape_opset14_zero", "Reshape-14 allowzero=0 (default) with shape [0,-1]", (2, 3, 4, 5), [0, -1], opset=14)


@case("dropout_opset12", "Dropout-12 inference (no ratio input, training_mode absent): identity, one output", opset=12)
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5))
    g.node("Dropout", [x], ["y"])
    g.output("y")


@case("dropout_opset12_ratio", "Dropout-12 with ratio=0.5 initializer input, inference: still identity", opset=12)
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5))
    g.node("Dropout", [x, g.init("ratio", np.array(0.5, np.float32))], ["y"])
    g.output("y")


@case("dropout_opset12_mask", "Dropout-12 inference with the optional mask output requested (mask all true, bool)", opset=12)
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4))
    g.node("Dropout", [x], ["y", "mask"])
    g.output("y")
    g.output("mask", np.bool_)


@case("dropout_opset7", "Dropout-7 (model opset 7), is_test implied: identity", opset=7)
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4))
    g.node("Dropout", [x], ["y"], ratio=0.3)
    g.output("y")


@case("constant_tensor_add", "Constant(value=float tensor [3,1,1]) feeding Add with x [2,3,4,5]")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5))
    g.node("Constant", [], ["c"], value=numpy_helper.from_array(g.randn(3, 1, 1), "c_value"))
    g.node("Add", [x, "c"], ["y"])
    g.output("y")


@case("constant_value_float_add", "Constant(value_float=2.5) (scalar) feeding Add")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4))
    g.node("Constant", [], ["c"], value_float=2.5)
    g.node("Add", [x, "c"], ["y"])
    g.output("y")


@case("constant_value_floats_add", "Constant(value_floats=[1,-2,3,0.5]) (1-D) feeding Add with x [2,3,4]")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4))
    g.node("Constant", [], ["c"], value_floats=[1.0, -2.0, 3.0, 0.5])
    g.node("Add", [x, "c"], ["y"])
    g.output("y")


@case("constant_value_ints_add", "Constant(value_ints=[10,-20,30]) (int64 1-D) feeding Add with int64 x [2,3]")
def _(g: Builder):
    x = g.input("x", g.rng.integers(-100, 100, (2, 3)).astype(np.int64))
    g.node("Constant", [], ["c"], value_ints=[10, -20, 30])
    g.node("Add", [x, "c"], ["y"])
    g.output("y", np.int64)


@case("constant_value_int_add", "Constant(value_int=7) (int64 scalar) feeding Add with int64 x [4]")
def _(g: Builder):
    x = g.input("x", np.array([1, -2, 3, -4], np.int64))
    g.node("Constant", [], ["c"], value_int=7)
    g.node("Add", [x, "c"], ["y"])
    g.output("y", np.int64)


@case("constantofshape_half", "ConstantOfShape(value=float 0.5) with shape initializer [2,3,4], added to x")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4))
    g.node("ConstantOfShape", [g.init("shape", np.array([2, 3, 4], np.int64))], ["c"],
           value=numpy_helper.from_array(np.array([0.5], np.float32), "value"))
    g.node("Add", [x, "c"], ["y"])
    g.output("y")


@case("constantofshape_default", "ConstantOfShape without value (float32 zeros), shape from an int64 graph input [3,4]")
def _(g: Builder):
    s = g.input("shape", np.array([3, 4], np.int64))
    g.node("ConstantOfShape", [s], ["y"])
    g.output("y")


@case("constantofshape_int64", "ConstantOfShape(value=int64 1) from Shape(x) (int64 ones shaped like x)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3))
    g.node("Shape", [x], ["s"])
    g.node("ConstantOfShape", ["s"], ["y"], value=numpy_helper.from_array(np.array([1], np.int64), "value"))
    g.output("y", np.int64)


@case("shape", "Shape-13 of a [2,3,4,5] tensor -> int64 [4]")
def _(g: Builder):
    g.node("Shape", [g.input("x", g.randn(2, 3, 4, 5))], ["y"])
    g.output("y", np.int64)


@case("shape_start_end", "Shape-15 with start=1 end=-1 -> [3,4]", opset=15)
def _(g: Builder):
    g.node("Shape", [g.input("x", g.randn(2, 3, 4, 5))], ["y"], start=1, end=-1)
    g.output("y", np.int64)


@case("shape_start_only", "Shape-15 with start=-2 (no end) -> [4,5]", opset=15)
def _(g: Builder):
    g.node("Shape", [g.input("x", g.randn(2, 3, 4, 5))], ["y"], start=-2)
    g.output("y", np.int64)


def gather_case(name, desc, data, indices, axis=0, indices_as_input=False):
    @case(name, desc)
    def _(g: Builder):
        d = data(g)
        x = g.input("data", d)
        idx = np.array(indices, np.int64)
        i = g.input("indices", idx) if indices_as_input else g.init("indices", idx)
        g.node("Gather", [x, i], ["y"], axis=axis)
        g.output("y", d.dtype)


gather_case("gather_scalar_index", "Gather axis 0, scalar index 1 on [3,4,5] -> [4,5] (rank drops)", lambda g: g.randn(3, 4, 5), 1)
gather_case("gather_index_vector", "Gather axis 0 with index vector [2,0,2] on [3,4] -> [3,4]", lambda g: g.randn(3, 4), [2, 0, 2])
gather_case("gather_axis1", "Gather axis 1 with indices [[0,3],[1,1]] (2-D) on float [2,4,3] -> [2,2,2,3]",
            lambda g: g.randn(2, 4, 3), [[0, 3], [1, 1]], axis=1)
gather_case("gather_negative_indices", "Gather axis 1 with negative indices [-1,0,-3] on [2,4,3]", lambda g: g.randn(2, 4, 3),
            [-1, 0, -3], axis=1)
gather_case("gather_int64_shape", "Gather axis 0 of an int64 vector [2,3,224,224] with scalar index 0 -> scalar []",
            lambda g: np.array([2, 3, 224, 224], np.int64), 0)
gather_case("gather_indices_input", "Gather axis -1 with int64 indices as a graph input (input_1)", lambda g: g.randn(2, 3, 5),
            [4, 0, -2], axis=-1, indices_as_input=True)


@case("unsqueeze_opset11", "Unsqueeze-11 with axes attribute [0,3] on [3,4] -> [1,3,4,1]", opset=11)
def _(g: Builder):
    g.node("Unsqueeze", [g.input("x", g.randn(3, 4))], ["y"], axes=[0, 3])
    g.output("y")


@case("unsqueeze_opset11_neg", "Unsqueeze-11 with axes attribute [-1] on [2,3] -> [2,3,1]", opset=11)
def _(g: Builder):
    g.node("Unsqueeze", [g.input("x", g.randn(2, 3))], ["y"], axes=[-1])
    g.output("y")


@case("unsqueeze_opset13", "Unsqueeze-13 with axes input [1,-1] on [2,3] -> [2,1,3,1]")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3))
    g.node("Unsqueeze", [x, g.init("axes", np.array([1, -1], np.int64))], ["y"])
    g.output("y")


@case("unsqueeze_scalar", "Unsqueeze-13 of a scalar [] with axes [0] -> [1]")
def _(g: Builder):
    x = g.input("x", np.array(3.5, np.float32))
    g.node("Unsqueeze", [x, g.init("axes", np.array([0], np.int64))], ["y"])
    g.output("y")


@case("squeeze_opset11", "Squeeze-11 with axes attribute [0,2] on [1,3,1,4] -> [3,4]", opset=11)
def _(g: Builder):
    g.node("Squeeze", [g.input("x", g.randn(1, 3, 1, 4))], ["y"], axes=[0, 2])
    g.output("y")


@case("squeeze_opset13", "Squeeze-13 with axes input [-1] on [2,3,1] -> [2,3]")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 1))
    g.node("Squeeze", [x, g.init("axes", np.array([-1], np.int64))], ["y"])
    g.output("y")


@case("squeeze_no_axes", "Squeeze-13 without axes: all size-1 dims removed, [1,3,1,4,1] -> [3,4]")
def _(g: Builder):
    g.node("Squeeze", [g.input("x", g.randn(1, 3, 1, 4, 1))], ["y"])
    g.output("y")


@case("squeeze_opset11_no_axes", "Squeeze-11 without axes attribute on [2,1,4,1] -> [2,4]", opset=11)
def _(g: Builder):
    g.node("Squeeze", [g.input("x", g.randn(2, 1, 4, 1))], ["y"])
    g.output("y")


def cast_case(name, desc, data, to, out_dtype):
    @case(name, desc)
    def _(g: Builder):
        g.node("Cast", [g.input("x", data(g))], ["y"], to=to)
        g.output("y", out_dtype)


def _float_for_int_cast(g):
    x = g.uniform(-20, 20, 3, 8)
    x[0, :6] = [2.7, -2.7, 0.5, -0.5, 3.0, -0.0]
    return x


def _float_with_zeros(g):
    x = g.randn(3, 8)
    x[x < -0.5] = 0.0
    x[0, :3] = [0.0, -0.0, 1e-30]
    return x


cast_case("cast_float_to_int64", "Cast float32 -> int64 (truncates toward zero: 2.7 -> 2, -2.7 -> -2)", _float_for_int_cast,
          TensorProto.INT64, np.int64)
cast_case("cast_int64_to_float", "Cast int64 -> float32", lambda g: g.rng.integers(-1000, 1000, (3, 8)).astype(np.int64),
          TensorProto.FLOAT, np.float32)
cast_case("cast_float_to_bool", "Cast float32 -> bool (nonzero -> true; 0 and -0 -> false)", _float_with_zeros, TensorProto.BOOL,
          np.bool_)
cast_case("cast_bool_to_float", "Cast bool -> float32", lambda g: g.rng.random((3, 8)) < 0.5, TensorProto.FLOAT, np.float32)
cast_case("cast_float_to_float", "Cast float32 -> float32 (no-op)", lambda g: g.randn(2, 5), TensorProto.FLOAT, np.float32)


@case("concat_axis1", "Concat axis 1 of [2,1,3,4], [2,2,3,4], [2,3,3,4] -> [2,6,3,4]")
def _(g: Builder):
    ins = [g.input(f"x{i}", g.randn(2, c, 3, 4)) for i, c in enumerate((1, 2, 3))]
    g.node("Concat", ins, ["y"], axis=1)
    g.output("y")


@case("concat_axis_neg1", "Concat axis -1 of [2,3,1], [2,3,4], [2,3,2] -> [2,3,7]")
def _(g: Builder):
    ins = [g.input(f"x{i}", g.randn(2, 3, c)) for i, c in enumerate((1, 4, 2))]
    g.node("Concat", ins, ["y"], axis=-1)
    g.output("y")


@case("concat_int64", "Concat axis 0 of int64 vectors [2], [1] (initializer), [1] -> [4] (shape-building)")
def _(g: Builder):
    a = g.input("a", np.array([2, 3], np.int64))
    b = g.init("b", np.array([-1], np.int64))
    c = g.input("c", np.array([5], np.int64))
    g.node("Concat", [a, b, c], ["y"], axis=0)
    g.output("y", np.int64)


@case("split_opset11_attr", "Split-11 axis 1 with split attribute [1,2,3] on [2,6,4] -> 3 outputs", opset=11)
def _(g: Builder):
    g.node("Split", [g.input("x", g.randn(2, 6, 4))], ["y0", "y1", "y2"], axis=1, split=[1, 2, 3])
    for o in ("y0", "y1", "y2"):
        g.output(o)


@case("split_opset11_equal", "Split-11 axis -1 into 2 equal parts (no split attribute) on [2,3,6]", opset=11)
def _(g: Builder):
    g.node("Split", [g.input("x", g.randn(2, 3, 6))], ["y0", "y1"], axis=-1)
    g.output("y0")
    g.output("y1")


@case("split_opset13_input", "Split-13 axis 1 with split [4,2] as an int64 initializer input on [2,6,3]")
def _(g: Builder):
    x = g.input("x", g.randn(2, 6, 3))
    g.node("Split", [x, g.init("split", np.array([4, 2], np.int64))], ["y0", "y1"], axis=1)
    g.output("y0")
    g.output("y1")


@case("split_opset13_equal", "Split-13 equal split with no split input: [2,6,3] axis 1 into 3 outputs")
def _(g: Builder):
    g.node("Split", [g.input("x", g.randn(2, 6, 3))], ["y0", "y1", "y2"], axis=1)
    for o in ("y0", "y1", "y2"):
        g.output(o)


@case("split_opset18_num_outputs", "Split-18 num_outputs=3 on an axis of size 7 -> sizes 3,3,1 (ceil(7/3) each, last smaller)",
      opset=18)
def _(g: Builder):
    g.node("Split", [g.input("x", g.randn(2, 7, 3))], ["y0", "y1", "y2"], axis=1, num_outputs=3)
    for o in ("y0", "y1", "y2"):
        g.output(o)


@case("split_opset18_num_outputs_even", "Split-18 num_outputs=2 on axis 1 of size 6 (ShuffleNet channel split)", opset=18)
def _(g: Builder):
    g.node("Split", [g.input("x", g.randn(2, 6, 2, 2))], ["y0", "y1"], axis=1, num_outputs=2)
    g.output("y0")
    g.output("y1")


def slice_case(name, desc, shape, starts, ends, axes=None, steps=None):
    @case(name, desc)
    def _(g: Builder):
        x = g.input("x", g.randn(*shape))
        ins = [x, g.init("starts", np.array(starts, np.int64)), g.init("ends", np.array(ends, np.int64))]
        if axes is not None:
            ins.append(g.init("axes", np.array(axes, np.int64)))
        if steps is not None:
            if axes is None:
                ins.append("")
            ins.append(g.init("steps", np.array(steps, np.int64)))
        g.node("Slice", ins, ["y"])
        g.output("y")


slice_case("slice_basic", "Slice-13 starts [1,0] ends [3,4] axes [1,3] on [2,4,5,6]", (2, 4, 5, 6), [1, 0], [3, 4], [1, 3])
slice_case("slice_steps", "Slice-13 axis 2 starts 0 ends 5 step 2 on [2,3,6,4]", (2, 3, 6, 4), [0], [5], [2], [2])
slice_case("slice_negative_steps", "Slice-13 reverse axis 1 (start -1, end INT64_MIN, step -1) and axis 2 step -2 from 4 to 0",
           (2, 4, 6), [-1, 4], [INT64_MIN, 0], [1, 2], [-1, -2])
slice_case("slice_end_int64_max", "Slice-13 axis 1 start 2 end INT64_MAX (to the end)", (2, 5, 3), [2], [INT64_MAX], [1])
slice_case("slice_negative_starts", "Slice-13 axis -1 start -3 end -1", (2, 3, 6), [-3], [-1], [-1])
slice_case("slice_axes_omitted", "Slice-13 with axes and steps omitted: starts [0,1,2] ends [1,3,100] (clamped) on [2,4,5]",
           (2, 4, 5), [0, 1, 2], [1, 3, 100])
slice_case("slice_steps_axes_omitted", "Slice-13 with axes omitted (\"\") but steps [1,-1] given", (3, 4), [0, 3], [2, -100], None,
           [1, -1])


@case("slice_opset9_attrs", "Slice-9 with starts/ends/axes attributes: axes [0,2] starts [1,-3] ends [2,INT64_MAX]", opset=9)
def _(g: Builder):
    x = g.input("x", g.randn(3, 4, 5))
    g.node("Slice", [x], ["y"], starts=[1, -3], ends=[2, INT64_MAX], axes=[0, 2])
    g.output("y")


@case("slice_opset9_no_axes", "Slice-9 attributes without axes: starts [0,1] ends [2,3]", opset=9)
def _(g: Builder):
    g.node("Slice", [g.input("x", g.randn(3, 4, 5))], ["y"], starts=[0, 1], ends=[2, 3])
    g.output("y")


@case("transpose_perm", "Transpose perm [0,2,3,1] (NCHW -> NHWC) on [2,3,4,5]")
def _(g: Builder):
    g.node("Transpose", [g.input("x", g.randn(2, 3, 4, 5))], ["y"], perm=[0, 2, 3, 1])
    g.output("y")


@case("transpose_perm_shuffle", "Transpose perm [0,2,1,3,4] (ShuffleNet channel shuffle) on [2,2,3,2,2]")
def _(g: Builder):
    g.node("Transpose", [g.input("x", g.randn(2, 2, 3, 2, 2))], ["y"], perm=[0, 2, 1, 3, 4])
    g.output("y")


@case("transpose_default", "Transpose without perm (reverses dims) on [2,3,4] -> [4,3,2]")
def _(g: Builder):
    g.node("Transpose", [g.input("x", g.randn(2, 3, 4))], ["y"])
    g.output("y")


# --------------------------------------------------------------------------------------------
# Normalisation, Softmax, LRN, Pad
# --------------------------------------------------------------------------------------------


def bn_case(name, desc, opset, **attrs):
    @case(name, desc, opset)
    def _(g: Builder):
        c = 4
        x = g.input("x", g.randn(2, c, 5, 5, scale=2.0))
        ins = [
            x,
            g.init("scale", g.uniform(0.5, 1.5, c)),
            g.init("bias", g.randn(c, scale=0.5)),
            g.init("mean", g.randn(c, scale=0.5)),
            g.init("var", g.uniform(0.25, 2.0, c)),
        ]
        g.node("BatchNormalization", ins, ["y"], **attrs)
        g.output("y")


bn_case("batchnorm_opset15", "BatchNormalization-15 inference, epsilon default 1e-5", 15)
bn_case("batchnorm_opset15_eps", "BatchNormalization-15 inference, epsilon=1e-3 momentum=0.9", 15, epsilon=1e-3, momentum=0.9)
bn_case("batchnorm_opset9", "BatchNormalization-9 inference", 9)
bn_case("batchnorm_opset7_spatial", "BatchNormalization-7 inference with spatial=1 attribute", 7, spatial=1)


@case("batchnorm_opset15_3d", "BatchNormalization-15 on a 3-D input [2,4,6] (N,C,L)", 15)
def _(g: Builder):
    c = 4
    ins = [
        g.input("x", g.randn(2, c, 6)),
        g.init("scale", g.uniform(0.5, 1.5, c)),
        g.init("bias", g.randn(c)),
        g.init("mean", g.randn(c)),
        g.init("var", g.uniform(0.25, 2.0, c)),
    ]
    g.node("BatchNormalization", ins, ["y"])
    g.output("y")


def layernorm_case(name, desc, shape, axis, bias=True, **attrs):
    @case(name, desc, 17)
    def _(g: Builder):
        x = g.input("x", g.randn(*shape, scale=2.0) + 0.5)
        norm_shape = shape[axis:]
        ins = [x, g.init("scale", g.uniform(0.5, 1.5, *norm_shape))]
        if bias:
            ins.append(g.init("bias", g.randn(*norm_shape, scale=0.5)))
        g.node("LayerNormalization", ins, ["y"], axis=axis, **attrs)
        g.output("y")


layernorm_case("layernorm_last", "LayerNormalization-17 axis=-1 on [2,3,8] with bias", (2, 3, 8), -1)
layernorm_case("layernorm_last_nobias", "LayerNormalization-17 axis=-1 without bias", (2, 3, 8), -1, bias=False)
layernorm_case("layernorm_chw", "LayerNormalization-17 axis=1 (over C,H,W) on [2,3,4,5] with bias", (2, 3, 4, 5), 1)
layernorm_case("layernorm_chw_nobias", "LayerNormalization-17 axis=1 (over C,H,W) without bias, epsilon=1e-3", (2, 3, 4, 5), 1,
               bias=False, epsilon=1e-3)
layernorm_case("layernorm_default_axis", "LayerNormalization-17 with axis omitted (default -1), [2,4,6]", (2, 4, 6), -1)


@case("softmax_last", "Softmax-13 axis=-1 on [2,3,4,5]")
def _(g: Builder):
    g.node("Softmax", [g.input("x", g.randn(2, 3, 4, 5, scale=3.0))], ["y"], axis=-1)
    g.output("y")


@case("softmax_axis1", "Softmax-13 axis=1 on [2,3,4,5] (per-channel, new semantics)")
def _(g: Builder):
    g.node("Softmax", [g.input("x", g.randn(2, 3, 4, 5, scale=3.0))], ["y"], axis=1)
    g.output("y")


@case("softmax_default_axis", "Softmax-13 without axis (default -1) on logits [2,10]")
def _(g: Builder):
    g.node("Softmax", [g.input("x", g.randn(2, 10, scale=3.0))], ["y"])
    g.output("y")


@case("softmax_large_values", "Softmax-13 axis -1 with large logits (+-80..100): needs max subtraction")
def _(g: Builder):
    x = g.uniform(80, 100, 2, 6) * np.where(g.rng.random((2, 6)) < 0.5, -1, 1).astype(np.float32)
    g.node("Softmax", [g.input("x", x.astype(np.float32))], ["y"], axis=-1)
    g.output("y")


@case("softmax_opset11_axis1_4d",
      "Softmax-11 axis=1 on [2,3,4,5]: old semantics flatten to [2,60] and normalise over all 60 (differs from per-axis)", 11)
def _(g: Builder):
    g.node("Softmax", [g.input("x", g.randn(2, 3, 4, 5, scale=2.0))], ["y"], axis=1)
    g.output("y")


@case("softmax_opset11_default", "Softmax-11 without axis (default 1) on [2,3,4]: normalises over the last 12 values", 11)
def _(g: Builder):
    g.node("Softmax", [g.input("x", g.randn(2, 3, 4, scale=2.0))], ["y"])
    g.output("y")


def lrn_case(name, desc, size, **attrs):
    @case(name, desc)
    def _(g: Builder):
        g.node("LRN", [g.input("x", g.randn(2, 7, 4, 4, scale=3.0))], ["y"], size=size, **attrs)
        g.output("y")


lrn_case("lrn_size3_default", "LRN size=3, default alpha=1e-4 beta=0.75 bias=1 on [2,7,4,4]", 3)
lrn_case("lrn_size5_default", "LRN size=5, default alpha/beta/bias", 5)
lrn_case("lrn_size5_custom", "LRN size=5 alpha=0.5 beta=0.6 bias=2.0 (custom; strong effect)", 5, alpha=0.5, beta=0.6, bias=2.0)
lrn_case("lrn_size3_custom", "LRN size=3 alpha=0.2 beta=0.9 bias=1.5", 3, alpha=0.2, beta=0.9, bias=1.5)


def resize_case(name, desc, in_shape, scales=None, sizes=None, **attrs):
    @case(name, desc)
    def _(g: Builder):
        x = g.input("x", g.randn(*in_shape))
        roi = ""
        sc = g.init("scales", np.array(scales, np.float32)) if scales is not None else ""
        sz = g.init("sizes", np.array(sizes, np.int64)) if sizes is not None else ""
        g.node("Resize", [x, roi, sc, sz] if sizes is not None else [x, roi, sc], ["y"], **attrs)
        g.output("y")


resize_case("resize_nearest_up2", "Resize-13 nearest, scales [1,1,2,2], asymmetric/floor (PyTorch's nearest export)",
            (2, 3, 4, 5), scales=[1, 1, 2, 2], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
resize_case("resize_linear_half_pixel", "Resize-13 linear half_pixel, scales [1,1,2,2] (bilinear, align_corners=False)",
            (2, 3, 4, 5), scales=[1, 1, 2, 2], mode="linear")
resize_case("resize_linear_align_corners_sizes", "Resize-13 linear align_corners to sizes [2,3,7,9]",
            (2, 3, 4, 5), sizes=[2, 3, 7, 9], mode="linear", coordinate_transformation_mode="align_corners")
resize_case("resize_cubic_down", "Resize-13 cubic half_pixel downsampling to sizes [1,2,3,4] (A=-0.75)",
            (1, 2, 6, 7), sizes=[1, 2, 3, 4], mode="cubic")
resize_case("resize_nearest_round_down", "Resize-13 nearest round_prefer_floor half_pixel to sizes [2,3,3,4]",
            (2, 3, 5, 7), sizes=[2, 3, 3, 4], mode="nearest")


def pad_case(name, desc, shape, pads, mode=None, value=None, axes=None, opset=13):
    @case(name, desc, opset)
    def _(g: Builder):
        x = g.input("x", g.randn(*shape))
        ins = [x, g.init("pads", np.array(pads, np.int64))]
        if value is not None or axes is not None:
            ins.append(g.init("value", np.array(value, np.float32)) if value is not None else "")
        if axes is not None:
            ins.append(g.init("axes", np.array(axes, np.int64)))
        attrs = {} if mode is None else {"mode": mode}
        g.node("Pad", ins, ["y"], **attrs)
        g.output("y")


pad_case("pad_constant_value", "Pad-13 constant with pads input [0,0,1,2,0,0,2,1] and constant_value 1.5", (2, 3, 4, 4),
         [0, 0, 1, 2, 0, 0, 2, 1], "constant", 1.5)
pad_case("pad_constant_default", "Pad-13 constant mode default (attribute absent), no value input -> zeros", (2, 3, 4, 4),
         [0, 0, 1, 1, 0, 0, 1, 1])
pad_case("pad_reflect", "Pad-13 mode reflect, pads [0,0,2,1,0,0,1,2]", (2, 3, 4, 5), [0, 0, 2, 1, 0, 0, 1, 2], "reflect")
pad_case("pad_edge", "Pad-13 mode edge, pads [0,1,2,1,0,0,1,3]", (2, 3, 4, 5), [0, 1, 2, 1, 0, 0, 1, 3], "edge")
pad_case("pad_negative", "Pad-13 constant with negative pads (cropping): [0,0,-1,2,0,0,1,-2]", (2, 3, 5, 6),
         [0, 0, -1, 2, 0, 0, 1, -2], "constant", 0.25)
pad_case("pad_opset11", "Pad-11 constant with pads + constant_value -2.0 inputs", (2, 3, 4), [0, 1, 1, 0, 2, 1], "constant", -2.0,
         opset=11)
pad_case("pad_opset18_axes", "Pad-18 with axes input [2,3] (pads [1,0,2,1] for H,W only), constant_value 3.0", (2, 3, 4, 4),
         [1, 0, 2, 1], "constant", 3.0, axes=[2, 3], opset=18)
pad_case("pad_opset18_neg_axes_reflect", "Pad-18 reflect with axes input [-1] and pads [2,1]", (2, 3, 5), [2, 1], "reflect",
         axes=[-1], opset=18)


@case("pad_opset2_attrs", "Pad-2 (model opset 2): pads attribute [0,0,1,2,0,0,2,1], mode constant, value=0.5", 2)
def _(g: Builder):
    g.node("Pad", [g.input("x", g.randn(2, 3, 4, 4))], ["y"], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="constant", value=0.5)
    g.output("y")


@case("pad_opset2_reflect", "Pad-2 (model opset 2): pads attribute, mode reflect", 2)
def _(g: Builder):
    g.node("Pad", [g.input("x", g.randn(1, 2, 4, 5))], ["y"], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="reflect")
    g.output("y")


# --------------------------------------------------------------------------------------------
# Small multi-op graphs
# --------------------------------------------------------------------------------------------


@case("graph_cnn_head", "Conv->BatchNormalization->Relu->MaxPool->GlobalAveragePool->Flatten->Gemm(transB=1), batch 2")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 10, 10))
    g.node("Conv", [x, g.init("conv_w", g.weight(8, 3, 3, 3)), g.init("conv_b", g.randn(8, scale=0.1))], ["c"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("BatchNormalization", ["c", g.init("bn_s", g.uniform(0.5, 1.5, 8)), g.init("bn_b", g.randn(8, scale=0.3)),
                                  g.init("bn_m", g.randn(8, scale=0.2)), g.init("bn_v", g.uniform(0.3, 1.2, 8))], ["bn"])
    g.node("Relu", ["bn"], ["r"])
    g.node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    g.node("GlobalAveragePool", ["p"], ["gap"])
    g.node("Flatten", ["gap"], ["f"], axis=1)
    g.node("Gemm", ["f", g.init("fc_w", g.weight(5, 8)), g.init("fc_b", g.randn(5, scale=0.1))], ["logits"], transB=1)
    g.output("logits")


def shape_flatten(batch):
    def build(g: Builder):
        x = g.input("x", g.randn(batch, 3, 4, 5), dims=["N", 3, 4, 5])
        g.node("Shape", [x], ["shp"])
        g.node("Gather", ["shp", g.init("zero", np.array(0, np.int64))], ["n"], axis=0)
        g.node("Unsqueeze", ["n", g.init("unsq_axes", np.array([0], np.int64))], ["n1"])
        g.node("Concat", ["n1", g.init("minus1", np.array([-1], np.int64))], ["target"], axis=0)
        g.node("Reshape", [x, "target"], ["y"])
        g.output("y", dims=["N", 60])

    return build


case("graph_shape_flatten",
     "Shape->Gather(0)->Unsqueeze->Concat([-1])->Reshape flattening x [N,3,4,5] -> [N,60]; input dim 0 is symbolic \"N\"; fed N=2")(
    shape_flatten(2))
case("graph_shape_flatten_n3", "Same model as graph_shape_flatten, fed with N=3")(shape_flatten(3))


@case("graph_batch_softmax_axis0", "Softmax over the batch axis of x [N,5] (N symbolic, fed 4): images are not independent")
def _(g: Builder):
    x = g.input("x", g.randn(4, 5), dims=["N", 5])
    g.node("Softmax", [x], ["y"], axis=0)
    g.output("y", dims=["N", 5])


@case("pad_zero_batch", "Pad-13 with all-zero pads on x [N,3,4,4] (N symbolic, fed 2), then AveragePool 2x2: "
                        "PyTorch's AvgPool export (DenseNet); the batch stays symbolic through the Pad")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 4), dims=["N", 3, 4, 4])
    g.node("Pad", [x, g.init("pads", np.zeros(8, np.int64))], ["p"], mode="constant")
    g.node("AveragePool", ["p"], ["y"], kernel_shape=[2, 2], strides=[2, 2])
    g.output("y", dims=["N", 3, 2, 2])


@case("graph_residual", "Residual block: Conv3x3->Relu->Conv3x3->Add(input), batch 2, C=4")
def _(g: Builder):
    x = g.input("x", g.randn(2, 4, 6, 6))
    g.node("Conv", [x, g.init("w1", g.weight(4, 4, 3, 3)), g.init("b1", g.randn(4, scale=0.1))], ["c1"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Relu", ["c1"], ["r1"])
    g.node("Conv", ["r1", g.init("w2", g.weight(4, 4, 3, 3)), g.init("b2", g.randn(4, scale=0.1))], ["c2"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Add", ["c2", x], ["y"])
    g.output("y")


@case("graph_residual_relu", "ResNet blocks: Conv->Relu->Conv, 1x1 Conv shortcut after it, Add->Relu; then Conv->Add(block)->Clip(0,6)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 4, 6, 6))
    g.node("Conv", [x, g.init("w1", g.weight(8, 4, 3, 3)), g.init("b1", g.randn(8, scale=0.1))], ["c1"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Relu", ["c1"], ["r1"])
    g.node("Conv", ["r1", g.init("w2", g.weight(8, 8, 3, 3)), g.init("b2", g.randn(8, scale=0.1))], ["c2"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Conv", [x, g.init("w_ds", g.weight(8, 4, 1, 1))], ["shortcut"], kernel_shape=[1, 1])
    g.node("Add", ["c2", "shortcut"], ["a1"])
    g.node("Relu", ["a1"], ["block"])
    g.node("Conv", ["block", g.init("w3", g.weight(8, 8, 3, 3)), g.init("b3", g.randn(8, scale=0.1))], ["c3"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Add", ["block", "c3"], ["a2"])
    g.node("Clip", ["a2", g.init("lo", np.array(0.0, np.float32)), g.init("hi", np.array(6.0, np.float32))], ["y"])
    g.output("y")


@case("graph_conv_hardswish", "HardSwish after convs: stem Conv 3->8 3x3, depthwise 3x3, then 1x1 Conv->Add(stem)->HardSwish", opset=14)
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 8, 8))
    g.node("Conv", [x, g.init("w1", g.weight(8, 3, 3, 3)), g.init("b1", g.randn(8, scale=0.5))], ["c1"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("HardSwish", ["c1"], ["h1"])
    g.node("Conv", ["h1", g.init("w2", g.weight(8, 1, 3, 3)), g.init("b2", g.randn(8, scale=0.5))], ["c2"],
           kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8)
    g.node("HardSwish", ["c2"], ["h2"])
    g.node("Conv", ["h2", g.init("w3", g.weight(8, 8, 1, 1)), g.init("b3", g.randn(8, scale=0.5))], ["c3"], kernel_shape=[1, 1])
    g.node("Add", ["c3", "h1"], ["a"])
    g.node("HardSwish", ["a"], ["y"])
    g.output("y")


@case("graph_conv_bn", "Conv->BatchNormalization->Relu, then a bias-free 1x1 Conv->BatchNormalization->Add->Clip(0,6) "
                       "(PaddlePaddle exports keep BatchNormalization after Conv)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 4, 6, 6))

    def batch_norm(name, inp, out, c):
        g.node("BatchNormalization", [inp, g.init(name + "_scale", g.uniform(0.5, 1.5, c)), g.init(name + "_b", g.randn(c, scale=0.2)),
                                      g.init(name + "_mean", g.randn(c, scale=0.2)), g.init(name + "_var", g.uniform(0.5, 2.0, c))],
               [out], epsilon=1e-3)

    g.node("Conv", [x, g.init("w1", g.weight(8, 4, 3, 3)), g.init("b1", g.randn(8, scale=0.1))], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    batch_norm("bn1", "c1", "n1", 8)
    g.node("Relu", ["n1"], ["r1"])
    g.node("Conv", ["r1", g.init("w2", g.weight(8, 8, 1, 1))], ["c2"], kernel_shape=[1, 1])
    batch_norm("bn2", "c2", "n2", 8)
    g.node("Add", ["n2", "r1"], ["a"])
    g.node("Clip", ["a", g.init("lo", np.array(0.0, np.float32)), g.init("hi", np.array(6.0, np.float32))], ["y"])
    g.output("y")


@case("graph_conv_scale_shift", "Conv->Mul by [8,1,1]->Add [1,8,1,1]->Relu, then a bias-free 1x1 Conv->Mul by a scalar->Add(residual)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 4, 6, 6))
    g.node("Conv", [x, g.init("w1", g.weight(8, 4, 3, 3)), g.init("b1", g.randn(8, scale=0.1))], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Mul", ["c1", g.init("scale", g.uniform(0.5, 1.5, 8, 1, 1))], ["m1"])
    g.node("Add", [g.init("shift", g.randn(1, 8, 1, 1, scale=0.2)), "m1"], ["a1"])
    g.node("Relu", ["a1"], ["r1"])
    g.node("Conv", ["r1", g.init("w2", g.weight(8, 8, 1, 1))], ["c2"], kernel_shape=[1, 1])
    g.node("Mul", ["c2", g.init("half", np.array(0.5, np.float32))], ["m2"])
    g.node("Add", ["m2", "r1"], ["y"])
    g.output("y")


@case("graph_conv_silu", "SiLU as exported: Conv->Sigmoid, Mul(conv, sigmoid); then 1x1 Conv->Add(residual)->Sigmoid, Mul(sigmoid, add)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 4, 6, 6))
    g.node("Conv", [x, g.init("w1", g.weight(8, 4, 3, 3)), g.init("b1", g.randn(8, scale=0.1))], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    g.node("Sigmoid", ["c1"], ["s1"])
    g.node("Mul", ["c1", "s1"], ["h1"])
    g.node("Conv", ["h1", g.init("w2", g.weight(8, 8, 1, 1)), g.init("b2", g.randn(8, scale=0.1))], ["c2"], kernel_shape=[1, 1])
    g.node("Add", ["c2", "h1"], ["a2"])
    g.node("Sigmoid", ["a2"], ["s2"])
    g.node("Mul", ["s2", "a2"], ["y"])
    g.output("y")


@case("graph_hardswish_decomposed", "TorchScript opset-13 HardSwish: x * HardSigmoid(x, alpha=1/6, beta=0.5)")
def _(g: Builder):
    x = g.input("x", g.uniform(-4.5, 4.5, 2, 3, 4, 5))
    g.node("HardSigmoid", [x], ["hs"], alpha=1.0 / 6.0, beta=0.5)
    g.node("Mul", [x, "hs"], ["y"])
    g.output("y")


@case("graph_gelu_decomposed", "TorchScript GELU: x * 0.5 * (1 + Erf(x / sqrt(2))) as Div/Erf/Add/Mul/Mul")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4, 5, scale=2.0))
    g.node("Div", [x, g.init("sqrt2", np.array(np.sqrt(2.0), np.float32))], ["d"])
    g.node("Erf", ["d"], ["e"])
    g.node("Add", ["e", g.init("one", np.array(1.0, np.float32))], ["a"])
    g.node("Mul", [x, "a"], ["m"])
    g.node("Mul", ["m", g.init("half", np.array(0.5, np.float32))], ["y"])
    g.output("y")


@case("graph_two_outputs", "Two graph outputs: y0 = Relu(x), y1 = Sigmoid(x) (output order matters)")
def _(g: Builder):
    x = g.input("x", g.randn(2, 3, 4))
    g.node("Relu", [x], ["y0"])
    g.node("Sigmoid", [x], ["y1"])
    g.output("y0")
    g.output("y1")


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def ir_version_for(opset):
    """IR version for a default-domain opset: at least 7 (onnxruntime loads 3..11 anyway)."""
    try:
        ir = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    except ValueError:  # opsets older than onnx's version table (e.g. 2)
        ir = 3
    return max(7, ir)




def build_model(c: Case, g: Builder, outputs_dims=None):
    outs = []
    for i, (name, elem, dims) in enumerate(g.outputs):
        if dims is None and outputs_dims is not None:
            dims = outputs_dims[i]
        outs.append(helper.make_tensor_value_info(name, elem, dims))
    graph = helper.make_graph(g.nodes, c.name, g.inputs, outs, initializer=g.inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", c.opset)],
        ir_version=ir_version_for(c.opset),
        producer_name="lafam-tools/make_op_fixtures",
    )
    return model


def generate(c: Case):
    g = Builder(rng_for(c.name))
    c.build(g)
    feeds = {name: arr for name, arr in g.feeds}

    # First pass: run with outputs of unknown shape, then declare the observed shapes.
    results = reference_session(build_model(c, g).SerializeToString()).run(None, feeds)
    dims = [list(r.shape) for r in results]
    if not c.declare_shapes:  # keep the rank and N, C; leave the spatial dims unknown
        dims = [d[:2] + [None] * (len(d) - 2) for d in dims]
    model = build_model(c, g, dims)
    onnx.checker.check_model(model, full_check=True)

    # Second pass: the final model must reproduce the same outputs.
    final = reference_session(model.SerializeToString()).run(None, feeds)
    for a, b in zip(results, final):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True), c.name

    folder = os.path.join(OUT_DIR, c.name)
    os.makedirs(folder)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    for i, (_, arr) in enumerate(g.feeds):
        np.save(os.path.join(folder, f"input_{i}.npy"), np.array(arr, order="C"), allow_pickle=False)
    for i, r in enumerate(results):
        assert r.dtype in NP_TO_ONNX, (c.name, r.dtype)
        np.save(os.path.join(folder, f"output_{i}.npy"), np.array(r, order="C"), allow_pickle=False)
    summary = ", ".join(f"{list(r.shape)} {r.dtype}" for r in results)
    return summary


def verify_from_disk(name):
    """Reload a written case, check it with onnx.checker, rerun onnxruntime on the saved inputs and
    compare bit-exactly with the saved outputs. Also compare with onnx.reference (tolerance) and return
    a warning string if that independent evaluator disagrees or cannot run the model."""
    folder = os.path.join(OUT_DIR, name)
    model = onnx.load(os.path.join(folder, "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    runtime_inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    feeds = {n: np.load(os.path.join(folder, f"input_{k}.npy")) for k, n in enumerate(runtime_inputs)}
    assert not os.path.exists(os.path.join(folder, f"input_{len(runtime_inputs)}.npy")), name
    expected = [np.load(os.path.join(folder, f"output_{k}.npy")) for k in range(len(model.graph.output))]
    assert not os.path.exists(os.path.join(folder, f"output_{len(expected)}.npy")), name
    got = reference_session(model.SerializeToString()).run(None, feeds)
    for e, r in zip(expected, got):
        assert e.dtype == r.dtype and e.shape == r.shape and np.array_equal(e, r), name
    try:
        from onnx.reference import ReferenceEvaluator

        ref = ReferenceEvaluator(model).run(None, feeds)
        for k, (e, r) in enumerate(zip(expected, ref)):
            r = np.asarray(r)
            if e.shape != r.shape or e.dtype != r.dtype or not np.allclose(e, r, rtol=1e-4, atol=1e-5):
                return f"onnx.reference disagrees on output_{k}"
    except Exception as exc:  # noqa: BLE001 - informational only
        return f"onnx.reference could not run it: {type(exc).__name__}: {str(exc).splitlines()[0][:60]}..."
    return ""


NOTES = [
    "Pooling with ceil_mode=1 (onnxruntime = PyTorch): out = ceil((L + pads - k) / s) + 1, minus one if the last "
    "window would start at or beyond L + pad_begin (i.e. entirely in the end padding); see `*_ceil_pad_edge*`.",
    "AveragePool count_include_pad=1 divides by the window clipped to the padded extent [-pad_begin, L + pad_end), "
    "so windows that overhang the end padding in ceil mode count fewer cells (`avgpool_ceil_incl`). "
    "count_include_pad=0 divides by the number of real input cells in the window.",
    "MaxPool padding acts as -inf (`maxpool_3x3_s2_p1_negative`). auto_pad SAME_UPPER puts the odd extra pad at "
    "the end, SAME_LOWER at the start.",
    "Softmax before opset 13 (`softmax_opset11_*`) flattens to 2-D [prod(dims[:axis]), prod(dims[axis:])] and "
    "normalises each row; opset 13 normalises along the single axis.",
    "int64 Div truncates toward zero (7 / -2 = -3); Cast float->int64 truncates toward zero; Cast float->bool "
    "maps 0 and -0 to false.",
    "Split-18 num_outputs=n uses chunks of ceil(L / n) with a smaller last chunk (7 -> 3,3,1).",
    "Gelu-20 (`gelu_none`, `gelu_tanh`) ran in onnxruntime 1.32 directly; no numpy fallback was needed.",
    "`graph_shape_flatten*` declare input dim 0 as the symbolic \"N\" and output [\"N\", 60].",
]


def main():
    if os.path.isdir(OUT_DIR):
        shutil.rmtree(OUT_DIR)
    os.makedirs(OUT_DIR)
    lines = [
        "# Op fixtures",
        "",
        "Generated by `tools/make_op_fixtures.py` (regenerate: `.venv/bin/python tools/make_op_fixtures.py`).",
        f"onnx {onnx.__version__}, onnxruntime {ort.__version__} (CPU, ORT_DISABLE_ALL), numpy {np.__version__}.",
        "",
        "Each folder holds `model.onnx`, `input_K.npy` (one per graph input that is not an initializer, in",
        "graph-input order) and `output_K.npy` (one per graph output, in order) computed by onnxruntime.",
        "dtypes: float32, int64, bool. Output shapes are declared in the models too (symbolic `N` in",
        "`graph_shape_flatten*`; unknown spatial dims in the `*_ceil_pad_edge*` cases).",
        "Compare floats with a tolerance (e.g. rtol 1e-4, atol 1e-5); int64/bool outputs exactly.",
        "",
        "| case | opset | description | outputs |",
        "|---|---|---|---|",
    ]
    for c in CASES:
        summary = generate(c)
        desc = c.desc + (f" ({c.note})" if c.note else "")
        lines.append(f"| `{c.name}` | {c.opset} | {desc} | {summary} |")
        print(f"{c.name:40s} opset {c.opset:2d}  {summary}")
    lines += ["", "## Semantics worth knowing", ""] + [f"- {n}" for n in NOTES] + [""]
    warnings = []
    for c in CASES:
        warning = verify_from_disk(c.name)
        if warning:
            print(f"note: {c.name}: {warning}")
            warnings.append(f"- `{c.name}`: {warning}")
    if warnings:
        lines += [
            "## Cross-check with onnx.reference",
            "",
            "Every case was reloaded from disk, passed `onnx.checker.check_model(full_check=True)` and reproduced",
            "bit-exactly in onnxruntime. onnx's pure-Python `onnx.reference` evaluator disagrees with or cannot",
            "run the cases below (onnx 1.23); for these onnxruntime's values were confirmed with independent",
            "float64 numpy code when the fixtures were made (LRN formula, BatchNormalization, pre-13 Softmax,",
            "-inf padded MaxPool, SAME_LOWER padding at the start, negative-pad cropping):",
            "",
            *warnings,
            "",
        ]
    with open(os.path.join(OUT_DIR, "INDEX.md"), "w") as f:
        f.write("\n".join(lines))
    total = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(OUT_DIR) for n in ns)
    print(f"{len(CASES)} cases, {total} bytes in {OUT_DIR}")


if __name__ == "__main__":
    sys.exit(main())
