"""Write lafam's sample photos to Models/samples/ from scikit-image's bundled data.

Run from the repository root (after tools/setup-venv.sh):

    .venv/bin/python tools/data/make_samples.py

Writes astronaut.jpg, chelsea.jpg, coffee.jpg and rocket.jpg at their original resolution as
baseline JPEG, quality 92, 4:2:0 chroma subsampling, no metadata (Pillow 9.4 / libjpeg-turbo, so the
bytes are reproducible with the pinned tools). All four are free of copyright restrictions:

    astronaut  Eileen Collins, NASA Great Images database; public domain
    chelsea    Chelsea the cat, photo by Stefan van der Walt; CC0
    coffee     coffee cup, photo by Rachel Michetti (Pikolo Espresso Bar); CC0
    rocket     DSCOVR launch on Falcon 9, SpaceX; released into the public domain
"""

import argparse
import hashlib
import os

import numpy as np
import skimage
import skimage.data
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tools/<folder>/<script>.py -> repository root
SAMPLES = ("astronaut", "chelsea", "coffee", "rocket")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "Models", "samples"))
    ap.add_argument("--quality", type=int, default=92)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    for name in SAMPLES:
        arr = getattr(skimage.data, name)()
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3, (name, arr.shape, arr.dtype)
        path = os.path.join(args.out, name + ".jpg")
        Image.fromarray(arr, "RGB").save(path, "JPEG", quality=args.quality, subsampling=2,
                                         optimize=False, progressive=False)
        with open(path, "rb") as f:
            data = f.read()
        print(f"{path}: {arr.shape[1]}x{arr.shape[0]}, {len(data)} bytes, "
              f"sha256 {hashlib.sha256(data).hexdigest()} (skimage {skimage.__version__})")


if __name__ == "__main__":
    main()
