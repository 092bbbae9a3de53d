"""Take the trained seed CNN elsewhere: seed_cnn.safetensors (weights that PyTorch's
load_state_dict accepts) and seed_cnn.onnx (a model for ONNX Runtime, drawn by Netron), made
from the checkpoint that train.py wrote: python examples/mnist/export.py --help"""

import argparse
from pathlib import Path

import loop
import numpy as np
from model import SeedCNN

import tinygrad_cnn as tc
from tinygrad_cnn.data import load_mnist
from tinygrad_cnn.onnx.exporter import MIN_OPSET


def load_model(checkpoint_path):
    """The SeedCNN of a train.py checkpoint, in evaluation mode; its widths come from the
    saved weights, so any --channels run loads."""
    state = tc.load(checkpoint_path)["model"]
    channels = (state["conv1.weight"].shape[0], state["conv2.weight"].shape[0])
    model = SeedCNN(channels=channels)
    model.load_state_dict(state)
    return model.eval()


# The largest |ONNX Runtime - tinygrad_cnn| allowed over the logits, as a fraction of the largest
# |logit|: two float32 implementations that round differently stay far below it (about 1e-7)
AGREEMENT = 1e-4


def compare_with_onnx_runtime(model, onnx_path, images, batch_size=1000):
    """The largest |ONNX Runtime - tinygrad_cnn| over the logits of `images` (B, 1, 28, 28),
    the fraction of images whose predicted class is the same in both, and the largest |logit|
    of ours."""
    # onnxruntime comes with the onnx extra; only this check needs it
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    largest, same, scale = 0.0, 0, 0.0
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        (theirs,) = session.run(None, {"input": batch})
        with tc.no_grad():
            ours = model(tc.Value(batch)).data
        largest = max(largest, float(np.abs(theirs - ours).max()))
        same += int((theirs.argmax(axis=1) == ours.argmax(axis=1)).sum())
        scale = max(scale, float(np.abs(ours).max()))
    return largest, same / len(images), scale


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Export the trained seed CNN to .safetensors "
                                                 "and .onnx.")
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/mnist/checkpoint.npz"),
                        help="checkpoint written by train.py (default: "
                             "runs/mnist/checkpoint.npz)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for seed_cnn.safetensors and seed_cnn.onnx (default: the "
                             "checkpoint's folder)")
    parser.add_argument("--opset", type=int, default=17,
                        help="ONNX opset of the exported model (default: 17)")
    parser.add_argument("--check-images", type=int, default=1000,
                        help="MNIST test images on which ONNX Runtime's logits are compared "
                             f"with ours, failing beyond {AGREEMENT:g} of the largest logit; "
                             "0 skips the check (default: 1000)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the MNIST IDX files, for the check (default: "
                             "$TINYGRAD_CNN_DATA, else $XDG_CACHE_HOME/tinygrad_cnn/mnist when "
                             "that is an absolute path, else ~/.cache/tinygrad_cnn/mnist)")
    args = parser.parse_args(argv)
    if args.opset < MIN_OPSET:          # refused before anything is written
        parser.error(f"--opset {args.opset}: expected {MIN_OPSET} or later, as tc.onnx.export "
                     f"writes")
    return args


def main(argv=None):
    args = parse_args(argv)
    out = args.out or args.checkpoint.parent
    model = load_model(args.checkpoint)
    out.mkdir(parents=True, exist_ok=True)

    weights_path = out / "seed_cnn.safetensors"
    tc.save(model.state_dict(), weights_path)
    print(f"wrote {weights_path} (PyTorch: model.load_state_dict(safetensors.torch.load_file("
          f"path)), see docs/moving-on.md)")

    onnx_path = out / "seed_cnn.onnx"
    example = np.zeros((2, 1, 28, 28), dtype=np.float32)    # only its shape matters: two
    # images, so that a constant made from the batch would be warned about (docs/moving-on.md)
    tc.onnx.export(model, example, onnx_path, opset=args.opset)
    print(f"wrote {onnx_path} (opset {args.opset}, batch axis 'N'; run it with onnxruntime, "
          f"view it at https://netron.app)")

    if args.check_images > 0:
        images, _ = load_mnist("test", root=args.data_dir)
        images = loop.normalize(images[:args.check_images])
        largest, same, scale = compare_with_onnx_runtime(model, onnx_path, images)
        print(f"ONNX Runtime on {len(images)} test images: largest |difference| from "
              f"tinygrad_cnn's logits {largest:.1e}, same predicted class for {100 * same:.2f}%")
        if not largest <= AGREEMENT * scale:        # NaN fails too
            raise SystemExit(
                f"export.py: ONNX Runtime's logits differ from tinygrad_cnn's by up to "
                f"{largest:.3g}, over {AGREEMENT:g} of the largest logit ({scale:.3g}); expected "
                f"the same model in both: {onnx_path} does not compute what the checkpoint "
                f"does, so do not use it; it is kept for inspection (e.g. in Netron)")


if __name__ == "__main__":
    main()
