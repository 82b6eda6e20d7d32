#!/usr/bin/python3
"""flowers.py -- the PyTorch twin of joulebench's flower-classifying CNN trainer (workloads/cnn).

Trains the same networks on the same data, split and hyper-parameters as the C trainer, and
reports the same actions and metrics through python/joulebench.py, so one joulebench
experiment compares C against Python/PyTorch (issue 7):

  own          rescale 1/255 -> Conv16 3x3 ReLU 'same' -> MaxPool2 -> Conv32 -> MaxPool2 -> Conv64
               -> MaxPool2 -> Dropout 0.2 -> Flatten -> Dense128 ReLU -> Dense classes
  mobilenetv2  torchvision.models.mobilenet_v2(width_mult=alpha) (its head: Dropout 0.2, Dense);
               --base CKPT loads a backbone saved by --save and trains a new head on it
               (frozen; --fine-tune N also trains the top N feature blocks)

Data: ImageFolder DIR/<class>/*.{png,jpg,jpeg}; classes sorted (label = index); images decoded
by PIL, resized bilinearly (half-pixel centres, no antialiasing, as tf.image.resize) to SxS,
scaled by 1/255. Split: relative paths "class/file" sorted by byte order; a file is in the
validation set iff splitmix64(seed ^ fnv1a64(path)) % 1000 < val_split * 1000. Seed: --seed,
else JOULEBENCH_SEED, else 42. Epochs are numbered from 1.

Actions (markers): preprocessing, epoch e (with train e and validation e inside),
classification (inference over the held-out set). Metrics with the epoch index: loss,
accuracy, val_loss, val_accuracy, val_f1 (macro), val_correct.

    flowers.py train --data DIR [--model own|mobilenetv2] [--alpha A] [--size S] [--epochs E]
                     [--batch B] [--lr LR] [--optimizer adam|sgd] [--threads T] [--seed K]
                     [--val-split F] [--flip] [--bench] [--save CKPT] [--base CKPT]
                     [--fine-tune N]
    flowers.py split --data DIR [--seed K] [--val-split F]   (prints the split, to compare with C)

Exit status: 0 ok, 2 bad usage or unusable data, 77 torch / torchvision / PIL missing.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import joulebench  # noqa: E402

EXIT_DATA = 2
EXIT_MISSING = 77
EXTENSIONS = (b".png", b".jpg", b".jpeg")
MASK64 = (1 << 64) - 1


class DataError(Exception):
    """Unusable data or arguments: the message says what and how to fix it."""


# ---- split (must match workloads/cnn exactly) ------------------------------------------------


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def in_validation(relpath, seed, val_split):
    """relpath: bytes "class/file". Same rule as the C trainer."""
    return splitmix64((seed & MASK64) ^ fnv1a64(relpath)) % 1000 < int(round(val_split * 1000))


def list_images(root):
    """(classes, [(relpath bytes, label)]) sorted by byte order; raises DataError."""
    broot = os.fsencode(root)
    if not os.path.isdir(broot):
        raise DataError("%s: not a directory; pass --data DIR with one folder per class" % root)
    classes = sorted(d for d in os.listdir(broot) if os.path.isdir(os.path.join(broot, d)))
    items = []
    for label, cls in enumerate(classes):
        for name in os.listdir(os.path.join(broot, cls)):
            if name.lower().endswith(EXTENSIONS) and os.path.isfile(os.path.join(broot, cls, name)):
                items.append((cls + b"/" + name, label))
    items.sort()
    used = sorted({label for _, label in items})
    if len(used) < 2:
        raise DataError(
            "%s: found %d class folder(s) with images (need at least 2); expected "
            "DIR/<class>/*.png|jpg|jpeg" % (root, len(used))
        )
    return [c.decode("utf-8", "surrogateescape") for c in classes], items


def split(items, seed, val_split):
    train, val = [], []
    for relpath, label in items:
        (val if in_validation(relpath, seed, val_split) else train).append((relpath, label))
    return train, val


# ---- data -----------------------------------------------------------------------------------


def load_images(root, items, size):
    """uint8 tensor N x 3 x S x S and labels; unreadable images are skipped and counted."""
    Image = import_pil()
    images, labels, skipped = [], [], 0
    for relpath, label in items:
        path = os.path.join(os.fsencode(root), relpath)
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")
                w, h = rgb.size
                data = rgb.tobytes()
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            skipped += 1
            print("skipping %s: %s" % (os.fsdecode(path), e), file=sys.stderr)
            continue
        pixels = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(h, w, 3)
        images.append(resize(pixels, size))
        labels.append(label)
    if not images:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8), torch.zeros(0, dtype=torch.long), skipped
    return torch.stack(images), torch.tensor(labels, dtype=torch.long), skipped


def resize(pixels_hwc, size):
    x = pixels_hwc.permute(2, 0, 1).unsqueeze(0).float()
    if x.shape[2] != size or x.shape[3] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8)[0]


def as_input(batch_uint8):
    return batch_uint8.float().mul_(1.0 / 255.0)


# ---- models ---------------------------------------------------------------------------------


def own_cnn(classes, size):
    nn = torch.nn
    flat = 64 * (size // 8) * (size // 8)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.2), nn.Flatten(),
        nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, classes),
    )  # fmt: skip


def mobilenetv2(classes, alpha):
    try:
        import torchvision
    except ImportError:
        missing("torchvision not available (needed for --model mobilenetv2): "
                "install python3-torchvision")
    return torchvision.models.mobilenet_v2(width_mult=alpha, num_classes=classes)


def build_model(args, classes):
    if args.model == "own":
        if args.size < 8:
            raise DataError("--size %d: the own CNN needs at least 8 (three 2x2 pools)" % args.size)
        return own_cnn(classes, args.size)
    model = mobilenetv2(classes, args.alpha)
    if args.base:
        load_base(model, args)
    return model


def read_base(args):
    """The --base checkpoint, checked before any data is loaded; raises DataError."""
    try:
        ckpt = torch.load(args.base, map_location="cpu")
    except Exception as e:
        raise DataError("%s: not a readable checkpoint (%s); make one with --save" % (args.base, e))
    if not isinstance(ckpt, dict) or ckpt.get("format") != "joulebench-flowers-1":
        raise DataError("%s: not a flowers.py checkpoint; make one with --save" % args.base)
    if ckpt.get("model") != "mobilenetv2" or float(ckpt.get("alpha", -1)) != args.alpha:
        raise DataError("%s: checkpoint is %s alpha %s, wanted mobilenetv2 alpha %s"
                        % (args.base, ckpt.get("model"), ckpt.get("alpha"), args.alpha))
    return ckpt


def load_base(model, args):
    """Transfer learning: load a saved mobilenetv2 backbone, freeze it but the top N blocks."""
    ckpt = read_base(args)
    features = {k[len("features."):]: v for k, v in ckpt["state"].items() if k.startswith("features.")}
    try:
        model.features.load_state_dict(features)
    except RuntimeError as e:
        raise DataError("%s: backbone does not fit: %s" % (args.base, str(e).splitlines()[0]))
    blocks = list(model.features.children())
    for i, block in enumerate(blocks):
        for p in block.parameters():
            p.requires_grad_(i >= len(blocks) - args.fine_tune)


def save_checkpoint(path, model, args, classes):
    torch.save({"format": "joulebench-flowers-1", "model": args.model, "alpha": args.alpha,
                "size": args.size, "classes": classes, "state": model.state_dict()}, path)


# ---- training -------------------------------------------------------------------------------


def make_optimizer(args, model):
    params = [p for p in model.parameters() if p.requires_grad]
    if args.optimizer == "adam":
        return torch.optim.Adam(params, lr=args.lr)
    return torch.optim.SGD(params, lr=args.lr, momentum=0.9)


def train_epoch(model, opt, x, y, args, gen):
    model.train()
    if args.base:  # frozen blocks keep their batch-norm statistics (Keras' training=False)
        blocks = list(model.features.children())
        for i, block in enumerate(blocks):
            block.train(i >= len(blocks) - args.fine_tune)
    order = torch.randperm(len(x), generator=gen)
    loss_sum, correct = 0.0, 0
    for start in range(0, len(x), args.batch):
        idx = order[start:start + args.batch]
        xb = as_input(x[idx])
        if args.flip:
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(3)
        logits = model(xb)
        loss = torch.nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(idx)
        correct += (logits.argmax(1) == y[idx]).sum().item()
    return loss_sum / len(x), correct / len(x)


def predict(model, x, batch):
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            outs.append(model(as_input(x[start:start + batch])))
    return torch.cat(outs) if outs else torch.zeros(0)


def scores(logits, y, classes):
    """val_loss, val_accuracy, macro F1, correct count, confusion matrix (rows: truth)."""
    loss = torch.nn.functional.cross_entropy(logits, y).item()
    pred = logits.argmax(1)
    confusion = torch.zeros(classes, classes, dtype=torch.long)
    confusion.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    correct = int(confusion.diag().sum())
    f1s = []
    for c in range(classes):
        tp = int(confusion[c, c])
        fp = int(confusion[:, c].sum()) - tp
        fn = int(confusion[c, :].sum()) - tp
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return loss, correct / len(y), sum(f1s) / classes, correct, confusion


# ---- commands -------------------------------------------------------------------------------


def seed_from(args):
    if args.seed is not None:
        return args.seed
    env = os.environ.get("JOULEBENCH_SEED")
    if env:
        try:
            return int(env, 0)
        except ValueError:
            raise DataError("JOULEBENCH_SEED=%r: not an integer" % env)
    return 42


def cmd_split(args):
    seed = seed_from(args)
    _, items = list_images(args.data)
    for relpath, label in items:
        part = "val" if in_validation(relpath, seed, args.val_split) else "train"
        print("%s %d %s" % (part, label, relpath.decode("utf-8", "surrogateescape")))
    return 0


def cmd_train(args):
    import_torch()
    seed = seed_from(args)
    torch.manual_seed(seed)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(seed)
    if args.base:
        read_base(args)
    with joulebench.action("preprocessing"):
        classes, items = list_images(args.data)
        train_items, val_items = split(items, seed, args.val_split)
        x, y, skipped_t = load_images(args.data, train_items, args.size)
        vx, vy, skipped_v = load_images(args.data, val_items, args.size)
    skipped = skipped_t + skipped_v
    print("data: %d classes, %d train, %d validation images (%d unreadable, skipped); seed %d"
          % (len(classes), len(x), len(vx), skipped, seed), flush=True)
    if len(x) == 0 or len(vx) == 0:
        raise DataError("%s: %d training and %d validation images after the split; add images "
                        "or change --val-split" % (args.data, len(x), len(vx)))
    model = build_model(args, len(classes))
    opt = make_optimizer(args, model)
    train_s, trained = 0.0, 0
    for epoch in range(1, args.epochs + 1):
        with joulebench.action("epoch", epoch):
            t0 = time.perf_counter()
            with joulebench.action("train", epoch):
                loss, acc = train_epoch(model, opt, x, y, args, gen)
            t1 = time.perf_counter()
            with joulebench.action("validation", epoch):
                val_loss, val_acc, val_f1, val_correct, _ = scores(predict(model, vx, args.batch), vy, len(classes))
        if epoch > 1 or args.epochs == 1:  # the first epoch warms up allocators and caches
            train_s, trained = train_s + (t1 - t0), trained + len(x)
        joulebench.metrics({"loss": loss, "accuracy": acc, "val_loss": val_loss,
                            "val_accuracy": val_acc, "val_f1": val_f1,
                            "val_correct": val_correct}, index=epoch)
        print("epoch %d/%d loss %.4f accuracy %.4f val_loss %.4f val_accuracy %.4f val_f1 %.4f "
              "val_correct %d/%d (%.1f s)" % (epoch, args.epochs, loss, acc, val_loss, val_acc,
                                              val_f1, val_correct, len(vx), t1 - t0), flush=True)
    with joulebench.action("classification"):
        t0 = time.perf_counter()
        logits = predict(model, vx, args.batch)
        infer_s = time.perf_counter() - t0
    *_, confusion = scores(logits, vy, len(classes))
    print_confusion(confusion, classes)
    if args.save:
        save_checkpoint(args.save, model, args, classes)
    if args.bench:
        print(json.dumps({"bench": "flowers-pytorch", "model": args.model, "alpha": args.alpha,
                          "size": args.size, "batch": args.batch, "threads": args.threads,
                          "train_images_per_s": trained / train_s if train_s else None,
                          "infer_images_per_s": len(vx) / infer_s if infer_s else None,
                          "torch": torch.__version__}), flush=True)
    return 0


def print_confusion(confusion, classes):
    width = max(8, max(len(c) for c in classes))
    print("confusion matrix (rows: true class, columns: predicted)")
    print(" " * width + "".join("%*s" % (width + 1, c) for c in classes))
    for name, row in zip(classes, confusion.tolist()):
        print("%*s" % (width, name) + "".join("%*d" % (width + 1, v) for v in row))


# ---- plumbing -------------------------------------------------------------------------------

torch = None


def import_torch():
    global torch
    try:
        import torch as _torch
    except ImportError:
        missing("torch not available: install python3-torch")
    torch = _torch


def import_pil():
    try:
        from PIL import Image
    except ImportError:
        missing("PIL not available (needed to decode images): install python3-pil")
    return Image


def missing(message):
    print("flowers.py: " + message, file=sys.stderr)
    sys.exit(EXIT_MISSING)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="flowers.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train and evaluate a model")
    s = sub.add_parser("split", help="print the train/validation split")
    for q in (t, s):
        q.add_argument("--data", required=True, help="ImageFolder root: DIR/<class>/*.png|jpg")
        q.add_argument("--seed", type=lambda v: int(v, 0), help="default: JOULEBENCH_SEED, else 42")
        q.add_argument("--val-split", type=float, default=0.2)
    t.add_argument("--model", choices=("own", "mobilenetv2"), default="own")
    t.add_argument("--alpha", type=float, default=1.0, help="MobileNetV2 width multiplier")
    t.add_argument("--size", type=int, default=64, help="input size S (SxS pixels)")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--lr", type=float, default=0.001)
    t.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    t.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    t.add_argument("--flip", action="store_true", help="random horizontal flips in training")
    t.add_argument("--bench", action="store_true", help="print images/s as a JSON line")
    t.add_argument("--save", help="write a checkpoint after training")
    t.add_argument("--base", help="mobilenetv2 checkpoint whose backbone to transfer (frozen)")
    t.add_argument("--fine-tune", type=int, default=0, help="with --base: train the top N blocks")
    args = p.parse_args(argv)
    if not 0 < args.val_split < 1:
        p.error("--val-split %g: must lie between 0 and 1" % args.val_split)
    if args.command == "train":
        for name in ("size", "epochs", "batch", "threads"):
            if getattr(args, name) < 1:
                p.error("--%s %d: must be at least 1" % (name, getattr(args, name)))
        if not args.lr > 0 or not args.alpha > 0:
            p.error("--lr and --alpha must be positive")
        if args.base and args.model != "mobilenetv2":
            p.error("--base works with --model mobilenetv2 only")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        return cmd_train(args) if args.command == "train" else cmd_split(args)
    except DataError as e:
        print("flowers.py: %s" % e, file=sys.stderr)
        return EXIT_DATA
    except BrokenPipeError:  # output piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
