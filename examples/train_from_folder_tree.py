"""Train a model from a folder tree with one sub-folder of images per class.

    python examples/train_from_folder_tree.py DATA_DIR OUT.cvmodel [--epochs 20]

    DATA_DIR/amorphous/*.tif
    DATA_DIR/crystalline/*.tif

The validation split, the figures and the saved model are those of the wizard and of
``crystalview train``; the bundle can be opened in the window or sent to a colleague.
"""

from __future__ import annotations

import argparse

from crystalview.core.progress import run_to_completion
from crystalview.training import (
    TrainingConfig,
    samples_from_folder,
    save_trained_model,
    train_model,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--base", default="diffraction_cnn", help="architecture or model name")
    parser.add_argument("--input-size", type=int, default=None)
    args = parser.parse_args()

    samples, classes = samples_from_folder(args.data_dir)
    print(f"{len(samples)} images of {len(classes)} classes: {', '.join(classes)}")
    config = TrainingConfig(base=args.base, epochs=args.epochs, input_size=args.input_size)

    def show(event) -> None:
        if event.partial is not None:  # one line per finished epoch
            m = event.partial
            print(f"epoch {m.epoch}: train acc {m.train_acc:.2f}, val acc {m.val_acc:.2f}")

    result = run_to_completion(train_model(samples, classes, config), show)
    path = save_trained_model(result, args.out)
    print(f"validation accuracy {result.val_accuracy:.2f}; saved {path}")


if __name__ == "__main__":
    main()
