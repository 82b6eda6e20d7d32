"""make_images.py -- a small deterministic ImageFolder for tests of examples/pytorch/flowers.py.

    make_images.py OUT [--classes C] [--per-class N] [--size S] [--seed K] [--corrupt]

Class k draws a disc of its own colour and radius at a random place on a noisy background,
as PNG and JPEG files, so a small CNN can learn it in a few epochs but not in zero.
--corrupt adds one truncated PNG, which flowers.py must skip and count. Needs python3-pil.
"""

import argparse
import os
import random
import sys

from PIL import Image, ImageDraw

COLOURS = [(220, 40, 40), (40, 200, 60), (50, 80, 230), (230, 210, 40), (200, 60, 220)]


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--per-class", type=int, default=40)
    p.add_argument("--size", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--corrupt", action="store_true")
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    for k in range(a.classes):
        folder = os.path.join(a.out, "class%d" % k)
        os.makedirs(folder, exist_ok=True)
        for i in range(a.per_class):
            img = Image.new("RGB", (a.size, a.size + k))  # sizes differ: the trainer resizes
            px = img.load()
            for y in range(img.size[1]):
                for x in range(img.size[0]):
                    px[x, y] = tuple(rng.randrange(60, 160) for _ in range(3))
            r = a.size // 4 + (k % 3) * a.size // 16  # colour tells classes 3 apart
            cx, cy = rng.randrange(r, a.size - r), rng.randrange(r, a.size - r)
            ImageDraw.Draw(img).ellipse((cx - r, cy - r, cx + r, cy + r), fill=COLOURS[k % 5])
            ext = "png" if i % 2 == 0 else "jpg"
            img.save(os.path.join(folder, "img%03d.%s" % (i, ext)))
    if a.corrupt:
        good = os.path.join(a.out, "class0", "img000.png")
        with open(good, "rb") as f:
            head = f.read(60)
        with open(os.path.join(a.out, "class0", "broken.png"), "wb") as f:
            f.write(head)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
