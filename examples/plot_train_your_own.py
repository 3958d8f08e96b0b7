"""
==================================
Training a model on your own data
==================================

How to train a sunpy-slic model on a folder of labelled FITS files, measure it, save it and
classify new images with it.

Your own data would be real observations sorted by hand into one folder per feature. So that this
example runs anywhere in under a minute, it makes a tiny dataset of synthetic H-alpha-like images
with `sunpy_slic.data.synthetic.make_dataset` and trains a small model on 32 × 32 pixel images for
a few epochs. A useful model needs far more images, larger images and longer training; see
:doc:`/guide/training`.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import sunpy_slic
from sunpy_slic.data.dataset import prepare_dataset
from sunpy_slic.data.synthetic import make_dataset, make_map
from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.io import read_map
from sunpy_slic.train import fit, plot_confusion_matrix

###############################################################################
# A folder of FITS files per feature
# ----------------------------------
# Training data are FITS files in one folder per feature, ``root/<feature>/*.fits``. Here 40
# synthetic frames of each feature are written into a temporary folder. Like real observations,
# they come in short time sequences of near-identical frames a few seconds apart.

workdir = tempfile.TemporaryDirectory(prefix="sunpy_slic_example_")
root = make_dataset(Path(workdir.name) / "my_data", 40, seed=1, shape=(96, 96), progress=False)
print({folder.name: len(list(folder.glob("*.fits"))) for folder in sorted(root.iterdir())})

###############################################################################
# One frame of each feature:

fig, axes = plt.subplots(1, len(FEATURES), figsize=(12, 2.9), layout="constrained")
for ax, feature in zip(axes, FEATURES, strict=True):
    smap = read_map(sorted((root / feature).glob("*.fits"))[0])
    ax.imshow(smap.data, origin="lower", cmap="gray")
    ax.set_title(DISPLAY_NAMES[feature])
    ax.set_axis_off()
plt.show()

###############################################################################
# Prepare a dataset store
# -----------------------
# `~sunpy_slic.data.dataset.prepare_dataset` reads every file, preprocesses it exactly as
# classification will (here to 32 × 32 pixels), and writes the images, labels and a table of the
# files to a store folder. It also splits the frames into training and validation sets by whole
# time sequences, so that no validation frame has a near-twin in the training set. We ask for 20 %
# of the frames in validation.

store = prepare_dataset(
    root, Path(workdir.name) / "my_store", image_size=32, val_fraction=0.2, progress=False
)
print(store)

###############################################################################
# The store's table lists every file with its time, its time sequence (``group``) and the side of
# the split it went to. All frames of a sequence are on the same side:

table = store.table["path", "feature", "date_obs", "group", "split"]
table["path"] = [Path(p).name for p in table["path"]]
table[:10].pprint_all()

###############################################################################
# Train
# -----
# `~sunpy_slic.train.fit` trains a new `~sunpy_slic.model.SlicNet` on the training frames and
# measures it on the validation frames after every epoch. Its defaults are the paper's recipe
# (SGD with Nesterov momentum, learning rate 5e-4, 5 epochs); for this tiny, short run a larger
# learning rate with a cosine schedule learns faster. With ``checkpoint_dir`` every epoch is saved,
# and a run that is killed continues from the last epoch when ``fit`` is called again.

result = fit(
    store,
    epochs=6,
    lr=0.01,
    schedule="cosine",
    batch_size=16,
    seed=0,
    checkpoint_dir=Path(workdir.name) / "checkpoints",
    progress=False,
)
for row in result.history:
    print(
        f"epoch {row['epoch']}: train loss {row['train_loss']:.3f}, "
        f"train accuracy {row['train_accuracy']:.2f}, validation accuracy {row['val_accuracy']:.2f}"
    )

###############################################################################
# The metrics on the validation frames after the last epoch, and the confusion matrix (rows: the
# true feature, columns: the predicted one). With so few images and epochs the numbers are rough.

print(f"validation accuracy {result.metrics['accuracy']:.2f} on {result.metrics['n']} frames")
for feature, m in result.metrics["per_class"].items():
    print(f"  {DISPLAY_NAMES[feature]:<13} precision {m['precision']:.2f}  recall {m['recall']:.2f}")

fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
plot_confusion_matrix(result.metrics, ax=ax)
ax.set_title("Validation set")
plt.show()

###############################################################################
# Save and use the model
# ----------------------
# `~sunpy_slic.train.FitResult.save` writes a weights file that also holds the preprocessing
# settings, the recipe, the training history and the metrics. `sunpy_slic.load_model` reads it back
# (checking its checksum), and `sunpy_slic.classify` uses it on new maps.

weights = Path(workdir.name) / "my_model.safetensors"
result.save(weights, provenance={"data": "synthetic example dataset"})
model = sunpy_slic.load_model(weights, device="cpu")
print(model.slic_meta.preprocess)

new_map = make_map("sunspot", seed=12345, shape=(96, 96))
print(sunpy_slic.classify(new_map, model=model))

###############################################################################
# Remove the temporary folder.

workdir.cleanup()
