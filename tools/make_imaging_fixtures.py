"""Write the fixtures for LafamImagingTests to Tests/Fixtures/imaging/.

Run from anywhere with the project's venv (Pillow 9.4, numpy 1.24, scikit-image 0.19 and
torchvision 0.14 through the system site-packages; see tools/setup-venv.sh):

    .venv/bin/python tools/make_imaging_fixtures.py

What it writes (everything is deterministic, so re-running reproduces the same arrays):

  coffee.png                 scikit-image's `coffee` photo (600x400, CC0), lossless.
  resize_cases.json          the PIL resize cases the Swift tests replay: a source (a crop of
                             coffee.png or a noise .npy), a target size and the expected .npy.
  resize_*.npy               Pillow's Image.resize(size, Image.BILINEAR) results, uint8 HxWx3.
  noise_*.npy                random uint8 sources that stress the rounding.
  preprocess_torchvision.npy torchvision CenterCrop(short side) -> Resize((32, 32), BILINEAR) ->
                             ToTensor -> Normalize(ImageNet) on coffee, float32 1x3x32x32.
  png_*.png / jpeg_*.jpg     small images in unusual PNG/JPEG flavours (gray, gray+alpha, RGBA,
                             palette, palette+tRNS, 1-bit, 16-bit gray and RGB, gray JPEG, CMYK
                             JPEG); decoded_*.npy holds what each should decode to (uint8 HxWx3):
                             Pillow's .convert("RGB") for 8-bit files and the high byte of each
                             sample for the 16-bit ones (which Pillow cannot convert faithfully).
  npy_*.npy                  arrays written by numpy for the .npy reader tests; their values are
                             simple formulas (listed in npy_cases.json) that the tests recompute.
"""

import json
import os
import struct
import zlib

import numpy as np
import skimage.data
import torch
import torchvision.transforms as T
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "Tests", "Fixtures", "imaging")


def path(name):
    return os.path.join(OUT, name)


def center_crop_box(width, height):
    """torchvision CenterCrop to the short side: (left, top, size)."""
    s = min(width, height)
    top = int(round((height - s) / 2.0))
    left = int(round((width - s) / 2.0))
    return left, top, s


def write_png_chunks(name, width, height, bit_depth, color_type, raw_rows):
    """Minimal PNG writer (for 16-bit files, which Pillow cannot write in RGB)."""
    def chunk(tag, data):
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    scanlines = b"".join(b"\x00" + row for row in raw_rows)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(scanlines, 9)) + chunk(b"IEND", b"")
    with open(path(name), "wb") as f:
        f.write(data)


def resize_fixtures(coffee):
    img = Image.fromarray(coffee)
    img.save(path("coffee.png"), optimize=True)
    height, width = coffee.shape[:2]
    cases = []

    def add(name, source, crop, size, src_img):
        out = np.asarray(src_img.resize(size, Image.BILINEAR))
        assert out.shape == (size[1], size[0], 3)
        np.save(path(name + ".npy"), out)
        cases.append({"name": name, "source": source, "crop": crop, "size": list(size), "expected": name + ".npy"})

    left, top, s = center_crop_box(width, height)
    crop = [left, top, s, s]
    add("resize_coffee_center224", "coffee.png", crop, (224, 224), img.crop((left, top, left + s, top + s)))

    # (crop x, y, w, h) of coffee -> target size: up, down, mixed, single-axis, extreme.
    for x, y, w, h, tw, th in [
        (281, 173, 37, 53, 100, 64),   # upscale both axes
        (100, 50, 400, 300, 64, 48),   # downscale both axes
        (10, 200, 123, 45, 50, 90),    # down in x, up in y
        (300, 100, 64, 48, 64, 20),    # vertical pass only
        (300, 100, 64, 48, 17, 48),    # horizontal pass only
        (0, 0, 600, 400, 7, 5),        # extreme downscale, wide kernels
        (250, 150, 3, 2, 11, 9),       # tiny source
        (250, 150, 1, 1, 4, 3),        # single pixel
    ]:
        name = "resize_coffee_%dx%d_to_%dx%d" % (w, h, tw, th)
        add(name, "coffee.png", [x, y, w, h], (tw, th), img.crop((x, y, x + w, y + h)))

    rng = np.random.RandomState(1234)
    noise = rng.randint(0, 256, size=(17, 31, 3)).astype(np.uint8)
    np.save(path("noise_31x17.npy"), noise)
    noise_img = Image.fromarray(noise)
    for tw, th in [(45, 11), (8, 40), (97, 71)]:
        add("resize_noise_31x17_to_%dx%d" % (tw, th), "noise_31x17.npy", [0, 0, 31, 17], (tw, th), noise_img)

    with open(path("resize_cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")

    # End-to-end preprocessing reference from torchvision itself.
    pipeline = T.Compose([
        T.CenterCrop(min(width, height)),
        T.Resize((32, 32), interpolation=T.InterpolationMode.BILINEAR),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    tensor = pipeline(img).unsqueeze(0).numpy().astype(np.float32)
    np.save(path("preprocess_torchvision.npy"), tensor)


def codec_fixtures(coffee):
    small = Image.fromarray(coffee[180:204, 260:292])  # 32x24 RGB
    w, h = small.size
    ramp = np.linspace(0, 255, w * h).reshape(h, w).astype(np.uint8)

    def expect(name, rgb):
        rgb = np.asarray(rgb, dtype=np.uint8)
        assert rgb.shape == (h, w, 3), (name, rgb.shape)
        np.save(path("decoded_" + name + ".npy"), rgb)

    def save_and_expect(name, image, **kw):
        filename = name + (".jpg" if name.startswith("jpeg") else ".png")
        image.save(path(filename), **kw)
        expect(name, Image.open(path(filename)).convert("RGB"))

    save_and_expect("png_gray", small.convert("L"))
    la = small.convert("LA")
    la.putalpha(Image.fromarray(ramp))
    save_and_expect("png_gray_alpha", la)
    rgba = small.convert("RGBA")
    rgba.putalpha(Image.fromarray(ramp[::-1].copy()))
    save_and_expect("png_rgba", rgba)
    save_and_expect("png_palette", small.quantize(colors=16))
    pal_t = small.quantize(colors=8)
    save_and_expect("png_palette_trns", pal_t, transparency=3)
    save_and_expect("png_1bit", small.convert("1"))
    save_and_expect("jpeg_gray", small.convert("L"), quality=90)
    save_and_expect("jpeg_cmyk", small.convert("CMYK"), quality=90)

    # 16-bit files: samples v*257 + (x*y % 256 noise in the low byte), expected = high byte.
    base = np.asarray(small).astype(np.uint16)
    low = (np.arange(w)[None, :] * np.arange(h)[:, None] % 256).astype(np.uint16)
    rgb16 = base * 256 + low[:, :, None]
    write_png_chunks("png_rgb16.png", w, h, 16, 2, [rgb16[y].astype(">u2").tobytes() for y in range(h)])
    expect("png_rgb16", (rgb16 >> 8).astype(np.uint8))
    gray16 = ramp.astype(np.uint16) * 256 + low
    write_png_chunks("png_gray16.png", w, h, 16, 0, [gray16[y].astype(">u2").tobytes() for y in range(h)])
    expect("png_gray16", np.repeat((gray16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2))


def npy_fixtures():
    cases = []

    def save(name, array, formula, version=None):
        filename = "npy_" + name + ".npy"
        if version is None:
            np.save(path(filename), array)
        else:
            with open(path(filename), "wb") as f:
                np.lib.format.write_array(f, array, version=version)
        cases.append({
            "file": filename,
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "fortran_order": bool(array.flags.f_contiguous and not array.flags.c_contiguous),
            "formula": formula,
        })

    # Element i (C order) of each array is given by "formula" evaluated at i.
    def arange(n, dtype):
        return np.arange(n).astype(dtype)

    save("float32", (arange(24, np.float32) * 0.25 - 3).reshape(2, 3, 4), "i*0.25-3")
    save("float64_scalar", np.array(3.141592653589793), "pi")
    save("int64", (arange(10, np.int64) * 1000000007 - 5).reshape(5, 2), "i*1000000007-5")
    save("int32", (arange(6, np.int32) * -7).reshape(3, 2), "i*-7")
    save("uint8", (arange(300, np.int64) % 256).astype(np.uint8).reshape(3, 100), "i%256")
    save("bool", (arange(7, np.int64) % 3 == 0).reshape(7), "i%3==0")
    save("big_float32", (arange(3 * 64 * 64, np.float32) * 0.001).reshape(1, 3, 64, 64), "i*0.001")
    save("float32_be", (arange(12, np.float32) * 0.5 - 1).reshape(3, 4).astype(">f4"), "i*0.5-1")
    save("float64_be", (arange(5, np.float64) / 3).astype(">f8"), "i/3")
    save("fortran_int32", np.asfortranarray(arange(24, np.int32).reshape(2, 3, 4)), "i")
    save("v2_float32", (arange(6, np.float32) + 0.5).reshape(2, 3), "i+0.5", version=(2, 0))
    save("v3_float64", (arange(4, np.float64) - 2).reshape(4, 1), "i-2", version=(3, 0))
    save("empty_float32", np.zeros((0, 3), dtype=np.float32), "0")

    with open(path("npy_cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    coffee = skimage.data.coffee()
    assert coffee.shape == (400, 600, 3) and coffee.dtype == np.uint8, coffee.shape
    resize_fixtures(coffee)
    codec_fixtures(coffee)
    npy_fixtures()
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print("wrote %d files, %.1f KiB, to %s" % (len(os.listdir(OUT)), total / 1024, OUT))


if __name__ == "__main__":
    main()
