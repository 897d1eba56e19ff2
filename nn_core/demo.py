"""``python -m nn_core.demo``: train a small CNN on scikit-learn's bundled 8x8 digits
(no download), with a progress bar (loss, accuracy, samples/s), then evaluate (test
accuracy, expected calibration error, confusion matrix) and write a PNG of the loss and
accuracy curves.

Data: ``sklearn.datasets.load_digits`` (1797 images, 10 classes), pixel values scaled to
[0, 1], a fixed stratified 80/20 train/test split (``random_state=0``). Model: two
3x3 conv + ReLU layers (a 2x2 max-pool between them) and a two-layer head, trained with
Adam (cosine-annealed learning rate) and cross-entropy. When this build of nn_core has
no ``nn.Conv2d`` / ``nn.MaxPool2d`` the demo says so and trains an MLP (64-256-256-10)
instead.

Needs the ``examples`` extra: ``pip install ".[examples]"`` (scikit-learn, tqdm, matplotlib).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

import nn_core as nc
from nn_core import functional as F
from nn_core import metrics, nn
from nn_core.data import DataLoader, TensorDataset


def has_conv() -> bool:
    """Does this build have the layers the CNN needs?"""
    return hasattr(nn, "Conv2d") and hasattr(nn, "MaxPool2d")


class DigitsCNN(nn.Module):
    """(N, 1, 8, 8) -> conv3x3(32) relu maxpool2 -> conv3x3(64) relu -> (N, 64*4*4)
    -> linear(128) relu -> linear(10)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


def digits_mlp() -> nn.Module:
    """The fallback model: (N, 64) -> 256 -> 256 -> 10 with ReLU."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def load_digits_split(dtype=None):
    """(x_train, y_train, x_test, y_test) as nn_core tensors: images (N, 1, 8, 8) in [0, 1],
    labels int64; the fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    conv = lambda a: nc.from_numpy(np.ascontiguousarray(a))
    out = [conv(x_tr), conv(y_tr), conv(x_te), conv(y_te)]
    if dtype is not None:
        out[0], out[2] = out[0].to(dtype), out[2].to(dtype)
    return tuple(out)


@dataclass
class TrainResult:
    model_name: str
    step_losses: List[float] = field(default_factory=list)
    epoch_loss: List[float] = field(default_factory=list)
    train_acc: List[float] = field(default_factory=list)
    test_acc_curve: List[float] = field(default_factory=list)
    test_accuracy: float = 0.0
    ece: float = 0.0
    confusion: Optional[np.ndarray] = None
    seconds: float = 0.0
    model: Optional[nn.Module] = None  # the trained model (in train mode)


def evaluate(model: nn.Module, x, y, batch_size: int = 512):
    """Softmax probabilities (numpy, (N, C)) of the model on x, in eval mode, without grad."""
    model.eval()
    probs = []
    with nc.no_grad():
        for start in range(0, x.shape[0], batch_size):
            probs.append(F.softmax(model(x[start:start + batch_size]), 1).numpy())
    model.train()
    return np.concatenate(probs, 0)


def train(epochs: int = 12, seed: int = 0, batch_size: int = 64, lr: float = 1e-2,
          use_cnn: Optional[bool] = None, progress: bool = True) -> TrainResult:
    """Trains on the digits split and evaluates; deterministic for a given seed."""
    use_cnn = has_conv() if use_cnn is None else use_cnn
    nc.manual_seed(seed)
    model = DigitsCNN() if use_cnn else digits_mlp()
    x_tr, y_tr, x_te, y_te = load_digits_split()
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=batch_size, shuffle=True, generator=seed)
    opt = nc.optim.Adam(model.parameters(), lr=lr)
    sched = nc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    result = TrainResult("CNN" if use_cnn else "MLP")
    bar_factory = _tqdm() if progress else None
    start_time = time.perf_counter()
    for epoch in range(epochs):
        bar = bar_factory(total=len(loader), desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=True,
                          file=sys.stdout) if bar_factory else None
        seen, correct, loss_sum, t0 = 0, 0, 0.0, time.perf_counter()
        for xb, yb in loader:
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_value = loss.item()
            result.step_losses.append(loss_value)
            n = xb.shape[0]
            seen += n
            loss_sum += loss_value * n
            correct += int((logits.detach().argmax(1) == yb).sum().item())
            if bar is not None:
                rate = seen / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss=f"{loss_value:.4f}", acc=f"{correct / seen:.3f}", samples_s=f"{rate:,.0f}",
                                refresh=False)
                bar.update(1)
        if bar is not None:
            bar.close()
        result.epoch_loss.append(loss_sum / seen)
        result.train_acc.append(correct / seen)
        result.test_acc_curve.append(metrics.accuracy(evaluate(model, x_te, y_te), y_te))
    result.seconds = time.perf_counter() - start_time
    probs = evaluate(model, x_te, y_te)
    result.test_accuracy = metrics.accuracy(probs, y_te)
    result.ece = metrics.expected_calibration_error(probs, y_te)
    result.confusion = metrics.confusion_matrix(probs, y_te, 10)
    result.model = model
    return result


def _tqdm():
    try:
        from tqdm import tqdm
        return tqdm
    except ImportError:  # the bar is cosmetic: train without it
        print("(tqdm is not installed: no progress bar; pip install '.[examples]')")
        return None


def format_confusion(cm: np.ndarray) -> str:
    width = max(3, len(str(cm.max())) + 1)
    lines = ["true\\pred" + "".join(f"{j:>{width}}" for j in range(cm.shape[1]))]
    for i, row in enumerate(cm):
        lines.append(f"{i:>9}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


def plot_curves(result: TrainResult, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    steps = np.arange(1, len(result.step_losses) + 1)
    per_epoch = len(result.step_losses) // max(len(result.epoch_loss), 1)
    ax1.plot(steps, result.step_losses, lw=0.8, alpha=0.6, label="batch loss")
    ax1.plot(np.arange(1, len(result.epoch_loss) + 1) * per_epoch, result.epoch_loss, "o-", label="epoch mean")
    ax1.set_xlabel("step")
    ax1.set_ylabel("cross-entropy loss")
    ax1.set_yscale("log")
    ax1.legend()
    ax1.set_title(f"digits {result.model_name}: training loss")
    epochs = np.arange(1, len(result.train_acc) + 1)
    ax2.plot(epochs, result.train_acc, "o-", label="train")
    ax2.plot(epochs, result.test_acc_curve, "s-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(min(0.8, min(result.train_acc + result.test_acc_curve)) - 0.02, 1.005)
    ax2.legend()
    ax2.set_title(f"test accuracy {result.test_accuracy:.4f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nn_core.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="nn_core.set_num_threads (default: unchanged)")
    parser.add_argument("--out", default="digits_training.png", help="where to write the PNG of the curves")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("the demo needs scikit-learn (and tqdm, matplotlib): pip install '.[examples]'", file=sys.stderr)
        return 2
    if args.threads:
        nc.set_num_threads(args.threads)
    if has_conv():
        print("model: CNN (conv3x3-32, maxpool2, conv3x3-64, linear-128, linear-10)")
    else:
        print("NOTE: this nn_core build has no nn.Conv2d / nn.MaxPool2d; training the MLP fallback "
              "(64-256-256-10) instead of the CNN")
    print(f"data: sklearn digits, 1437 train / 360 test (fixed stratified 80/20 split); Adam lr={args.lr}, "
          f"batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}, {nc.get_num_threads()} threads")
    result = train(args.epochs, args.seed, args.batch_size, args.lr, progress=not args.no_progress)
    print(f"\ntrained the {result.model_name} in {result.seconds:.2f} s")
    print(f"test accuracy: {result.test_accuracy:.4f}")
    print(f"expected calibration error (15 bins): {result.ece:.4f}")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(format_confusion(result.confusion))
    try:
        plot_curves(result, args.out)
        print(f"wrote {args.out}")
    except ImportError:
        print("matplotlib is not installed: no plot; pip install '.[examples]'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
