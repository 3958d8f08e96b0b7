"""
Train the bundled sunpy-slic model, reproducibly (weights v2: 128-pixel input).

The bundled weights (v2.6) were made by this script in ten stages (from scratch, then fine-tuning
runs with ``--init``, adding data with ``--n-classic``, ``--n-sky-scenes``, ``--n-limb-scenes``,
``--frames-repeat`` and ``--n-extra-frames``; stage 9 with ``--mask-artefacts`` and
``--n-focus-frames``, stage 10 with ``--n-band-frames``, stage 11 with ``--n-size-frames``) and four
averages (``average_weights.py``); the
commands, the minutes and the measured figures are in the model card (``docs/model_card.rst``) and
in the weights (``meta.extra["lineage"]``). About 4 minutes an epoch on an idle 2-core CPU with
stage 1's data, 11 with all of stage 11's.
``--n-extra-outliers`` (outliers of every trained family, added to a cached run) was used for a
measured eighth stage that was not bundled (``benchmarks/RESULTS.md``).

Data (all made here, nothing downloaded; see docs/model_card.rst):

* whole frames of every feature from the synthetic generator (`sunpy_slic.data.synthetic`), at plate
  scales drawn over each feature's physical range (0.01-5″/pixel, `random_scale`) and with the
  generator's realism effects (8-bit, JPEG, binning, slit, borders, level-0 defects, ...) on a
  random share of them; frames of 192 pixels, and with ``--n-size-frames`` frames of 128-512 pixels,
  so that the field of view and the reduction to the network input vary;
* tiles cut from synthetic full-disk scenes and labelled from the scenes' masks
  (`sunpy_slic.data.tiles`), at several tile sizes relative to the disk, so that the model knows
  tiles as `probability_map` cuts them;
* crops of the real Hinode/SOT frames in ``../shared/data`` (11:15 UT group only; 11:20 UT is held
  out): crops on the spot are sunspot, crops of granulation away from it are quiet Sun;
* outliers (`sunpy_slic.data.outliers`: EUV, magnetograms, coronagraphs, radio, noise, ...), trained
  towards equal probabilities (outlier exposure, label `sunpy_slic.train.OUTLIER`); the families
  listed in ``--held-out-families`` are never trained on and measure the out-of-distribution score.

Seeds: training data use seeds below 900 000; every held-out measure uses seeds from 900 000 on.

Run from the repository root; with ``--checkpoint-dir`` a killed run resumes where it stopped::

    .venv/bin/python scripts/train_v2.py --work /tmp/slic_v2 --checkpoint-dir /tmp/slic_v2/ckpt

It writes the weights (float16 safetensors with full metadata: data, seeds, recipe, size, domain,
OOD statistics, calibration) and a JSON report of every figure quoted in the model card.
"""

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from astropy.io import fits
from scipy import ndimage
from torch.utils.data import ConcatDataset
from tqdm.auto import tqdm

from sunpy_slic.calibration import calibrate
from sunpy_slic.classification import classify
from sunpy_slic.data.dataset import SlicDataset
from sunpy_slic.data.outliers import OUTLIER_FAMILIES, outlier_images
from sunpy_slic.data.synthetic import (
    PLATE_SCALE_RANGES,
    REALISM_EFFECTS,
    make_full_disk_map,
    make_image,
    make_images,
    random_effects,
    random_scale,
)
from sunpy_slic.data.tiles import SKIPPED, disk_geometry, full_disk_tiles, tile_labels
from sunpy_slic.domain import set_training_domain, training_domain
from sunpy_slic.feature_distance import feature_statistics, score_probabilities
from sunpy_slic.features import FEATURES
from sunpy_slic.ood import fit_ood, score_embeddings
from sunpy_slic.preprocessing import PreprocessSpec, preprocess
from sunpy_slic.runtime import forward_dataset
from sunpy_slic.train import OUTLIER, evaluate, fit
from sunpy_slic.weights import load_model, model_temperature

ROOT = Path(__file__).resolve().parent.parent
EVALUATION_SEED = 900_000


def _preprocess_batches(images, spec, batch=64):
    """Preprocess a list of 2-D arrays (of any shapes) into float16 (N, 1, S, S)."""
    out = []
    for i in range(0, len(images), batch):
        out.append(preprocess(list(images[i : i + batch]), spec).numpy().astype(np.float16))
    return np.concatenate(out) if out else np.zeros((0, 1, spec.image_size, spec.image_size), np.float16)


def synthetic_frames(
    n_per_class,
    seed,
    shape,
    spec,
    p_effects,
    progress,
    features=FEATURES,
    effects=None,
    desc="frames",
    band=None,
    sizes=None,
):
    """
    Whole frames at random plate scales, a share ``p_effects`` of them with realism effects.

    ``effects``, if given, replaces that draw: a function of the frame's generator (after its plate
    scale is drawn) that returns the ``effects`` argument of `make_image`. ``band``, if given, is a
    ``(low, high)`` plate-scale range (arcsec per pixel): each frame's scale is then drawn
    log-uniformly over the part of its feature's range (`PLATE_SCALE_RANGES`) inside it. ``sizes``,
    if given, replaces ``shape``: each frame is square, its side drawn uniformly from ``sizes``
    (after its effects), so that the field of view and the reduction to the network input vary as
    they do between archives.
    """

    def mixed(rng):
        return "random" if rng.random() < p_effects else None

    images, labels, scales = [], [], []
    bar = tqdm(total=n_per_class * len(features), desc=desc, disable=not progress)
    for fid, feature in enumerate(FEATURES):
        if feature not in features:
            continue
        for i in range(n_per_class):
            rng = np.random.default_rng([seed, fid, i])
            scale = random_scale(rng, feature) if band is None else _band_scale(rng, feature, band)
            drawn = (effects or mixed)(rng)
            side = shape if sizes is None else (int(sizes[rng.integers(len(sizes))]),) * 2
            image, _ = make_image(
                feature,
                seed=seed + 10_000 * fid + i,
                shape=side,
                scale=scale,
                scene="physical",
                effects=drawn,
            )
            images.append(image)
            labels.append(fid)
            scales.append(scale)
            bar.update()
    bar.close()
    return _preprocess_batches(images, spec), np.array(labels), np.array(scales)


def _band_scale(rng, feature, band):
    """A plate scale drawn log-uniformly over the part of ``feature``'s range inside ``band``."""
    lo, hi = PLATE_SCALE_RANGES[feature]
    lo, hi = max(lo, band[0]), min(hi, band[1])
    if lo > hi:
        msg = f"the plate-scale band {band} is outside {feature}'s range {PLATE_SCALE_RANGES[feature]}"
        raise ValueError(msg)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def focus_frames(n_per_class, seed, shape, spec, features, forced, p_forced, progress):
    """
    More whole frames of some features, each with the training mix of effects (``effects="random"``)
    and, with probability ``p_forced``, one effect of ``forced`` on top: the conditions a feature is
    weak under (flare ribbons flattened by saturation, 8-bit or JPEG) and, for the features that are
    confused with it (quiet Sun with plage), the same conditions, so that the condition itself does
    not become the cue.
    """

    def mix_and_forced(rng):
        names = set(random_effects(rng))
        if forced and rng.random() < p_forced:
            names.add(forced[int(rng.integers(len(forced)))])
        return [n for n in REALISM_EFFECTS if n in names] or None

    x, y, _ = synthetic_frames(
        n_per_class, seed, shape, spec, None, progress, features, effects=mix_and_forced, desc="focus frames"
    )
    return x, y


def classic_frames(n_per_class, seed, shape, spec):
    """Whole frames of the classic scenes (the data of the v1 weights, ``scene="classic"``)."""
    images, labels = make_images(n_per_class, seed=seed, shape=shape, scene="classic")
    return _preprocess_batches(images, spec), labels


def disk_tiles(n_scenes, seed, spec, tile, shapes):
    """Balanced tiles of synthetic full-disk scenes, labelled from their masks."""
    xs, ys = [], []
    for k, shape in enumerate(shapes):
        tiles = full_disk_tiles(
            seed=seed + 1000 * k, shape=shape, tile=tile, n_scenes=n_scenes, balanced=True
        )
        keep = tiles.labels >= 0
        xs.append(_preprocess_batches(list(tiles.tiles[keep]), spec))
        ys.append(tiles.labels[keep])
    return np.concatenate(xs), np.concatenate(ys)


def limb_scene_tiles(seed, shape, tile):
    """
    Every tile of one synthetic full-disk scene, a quarter tile apart, with what the limb tiles
    below select on: the scene's data, the tiles' lower-left corners, their labels (`tile_labels`),
    the distance of their centres from disk centre (solar radii) and whether they are free of any
    prominence.
    """
    smap, _, masks = make_full_disk_map(seed=seed, shape=shape, masks=True)
    geometry = disk_geometry(smap)
    starts = [np.arange(0, n - tile + 1, tile // 4) for n in shape]
    corners = np.array([(r, c) for r in starts[0] for c in starts[1]])
    centers = corners + (tile - 1) / 2
    labels = tile_labels(masks or {"sunspot": np.zeros(shape, bool)}, centers, tile, disk=geometry)
    rho = geometry.rho(centers[:, 0], centers[:, 1])
    prominence = masks.get("prominence", np.zeros(shape, bool))
    clean = np.array([not prominence[r : r + tile, c : c + tile].any() for r, c in corners])
    return np.asarray(smap.data, dtype=np.float32), corners, labels, rho, clean


def limb_sky_tiles(n_scenes, seed, spec, tile, shapes):
    """
    Tiles centred on the sky just above the limb of synthetic full-disk scenes, with no prominence
    anywhere in them: trained as outliers (equal probabilities), so that the limb itself is not
    taken for a prominence. (Their labels in `tile_labels` are SKIPPED: sky is never a class.)
    """
    out = []
    for k, shape in enumerate(shapes):
        for i in range(n_scenes):
            data, corners, labels, rho, clean = limb_scene_tiles(seed + 1000 * k + i, shape, tile)
            keep = (labels == SKIPPED) & (rho >= 1.0) & (rho <= 1.15) & clean
            out += [data[r : r + tile, c : c + tile] for r, c in corners[keep]]
    return _preprocess_batches(out, spec)


def limb_disk_tiles(n_scenes, seed, spec, tile, shapes, per_scene=64):
    """
    Tiles centred on the disk just inside the limb (0.85 to 1 solar radius), with no prominence
    anywhere in them, labelled as `tile_labels` reads them (quiet Sun unless a disk feature covers
    the centre). A tile of the disk's edge shows the limb; without these, the limb alone is read as
    a prominence, because every prominence tile shows one.
    """
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, shape in enumerate(shapes):
        for i in range(n_scenes):
            data, corners, labels, rho, clean = limb_scene_tiles(seed + 1000 * k + i, shape, tile)
            keep = np.flatnonzero((labels >= 0) & (rho >= 0.85) & (rho < 1.0) & clean)
            keep = rng.permutation(keep)[:per_scene]
            xs += [data[r : r + tile, c : c + tile] for r, c in corners[keep]]
            ys.append(labels[keep])
    return _preprocess_batches(xs, spec), np.concatenate(ys)


def hinode_crops(paths, n_per_class, seed, spec):
    """Crops of real Hinode/SOT frames: on the spot (sunspot) and of granulation (quiet Sun)."""
    rng = np.random.default_rng(seed)
    frames = [np.asarray(fits.getdata(p), dtype=np.float32) for p in paths]
    images, labels = [], []
    for frame in frames:
        smooth = ndimage.uniform_filter(frame, 9)
        spot = smooth < 0.75 * np.median(frame)  # umbra and penumbra are well below the granulation
        spot = ndimage.binary_opening(spot, iterations=2)
        near = ndimage.binary_dilation(spot, iterations=24)
        ny, nx = frame.shape
        got = {0: 0, 1: 0}
        tries = 0
        while (got[0] < n_per_class or got[1] < n_per_class) and tries < 50_000:
            tries += 1
            side = int(np.exp(rng.uniform(np.log(48), np.log(min(ny, nx)))))
            r, c = rng.integers(0, ny - side + 1), rng.integers(0, nx - side + 1)
            q = side // 4
            centre = spot[r + q : r + side - q, c + q : c + side - q].mean()
            if centre > 0.15 and got[1] < n_per_class:
                images.append(frame[r : r + side, c : c + side])
                labels.append(FEATURES.index("sunspot"))
                got[1] += 1
            elif not near[r : r + side, c : c + side].any() and got[0] < n_per_class:
                images.append(frame[r : r + side, c : c + side])
                labels.append(FEATURES.index("quiet_sun"))
                got[0] += 1
    # The whole frames too: the spot with its surroundings.
    images += frames
    labels += [FEATURES.index("sunspot")] * len(frames)
    return _preprocess_batches(images, spec), np.array(labels)


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("slic_v2.safetensors"))
    p.add_argument("--report", type=Path, default=Path("slic_v2_report.json"))
    p.add_argument("--work", type=Path, default=Path("/tmp/slic_default_work"))
    p.add_argument("--checkpoint-dir", type=Path, default=None)
    p.add_argument("--real", type=Path, default=ROOT.parent / "shared/data/hinode_sot_fe5576")
    p.add_argument("--image-size", type=int, default=128, help="side of the network input")
    p.add_argument(
        "--mask-artefacts",
        action="store_true",
        help="remove slits and the fill of rotated frames before the network (PreprocessSpec."
        "mask_artefacts); off by default, as stages 1-7 were trained; stage 9 (v2.4) turned it on",
    )
    p.add_argument("--frame-shape", type=int, default=192, help="side of the synthetic frames")
    p.add_argument("--n-per-class", type=int, default=480, help="synthetic frames per feature")
    p.add_argument("--p-effects", type=float, default=0.6, help="share of frames with realism effects")
    p.add_argument("--n-scenes", type=int, default=24, help="full-disk scenes per scene size for tiles")
    p.add_argument("--n-hinode", type=int, default=60, help="Hinode crops per class and frame")
    p.add_argument(
        "--hinode-repeats",
        type=int,
        default=3,
        help="times the Hinode crops are seen per epoch (default: %(default)s, every stage up to 11)",
    )
    p.add_argument("--n-outliers", type=int, default=800)
    p.add_argument(
        "--held-out-families",
        nargs="*",
        default=["coronagraph", "photograph_like"],
        help="outlier families never trained on (they measure the OOD score)",
    )
    p.add_argument("--n-classic", type=int, default=0, help="classic-scene frames per feature (v1's data)")
    p.add_argument("--n-sky-scenes", type=int, default=0, help="scenes per size for limb-sky outlier tiles")
    p.add_argument(
        "--n-limb-scenes", type=int, default=0, help="scenes per size for tiles of the disk's edge"
    )
    p.add_argument(
        "--frames-repeat", type=int, default=1, help="times the whole synthetic frames are seen per epoch"
    )
    p.add_argument(
        "--n-extra-frames",
        type=int,
        default=0,
        help="more whole synthetic frames per feature, from seeds of their own (added to a cached run)",
    )
    p.add_argument(
        "--n-extra-outliers",
        type=int,
        default=0,
        help="more outlier images of every trained family, from seeds of their own (added to a cached run)",
    )
    p.add_argument(
        "--n-focus-frames",
        type=int,
        default=0,
        help="more whole frames of each --focus-features feature, own seeds (added to a cached run)",
    )
    p.add_argument("--focus-features", nargs="*", default=["flare_ribbon", "quiet_sun"])
    p.add_argument(
        "--focus-effects",
        nargs="*",
        default=["saturation", "quantize_8bit", "jpeg"],
        help="one of these is added to a focus frame's random effects with probability --p-focus-effect",
    )
    p.add_argument("--p-focus-effect", type=float, default=0.6)
    p.add_argument(
        "--n-band-frames",
        type=int,
        default=0,
        help="more whole frames of every feature at plate scales inside --band, own seeds (added to a "
        "cached run)",
    )
    p.add_argument(
        "--band",
        type=float,
        nargs=2,
        default=[1.5, 5.0],
        metavar=("LOW", "HIGH"),
        help="the plate-scale band of --n-band-frames, arcsec per pixel (1.5 5)",
    )
    p.add_argument(
        "--n-size-frames",
        type=int,
        default=0,
        help="more whole frames of every feature, each of a side drawn from --frame-sizes, own seeds "
        "(added to a cached run)",
    )
    p.add_argument(
        "--frame-sizes",
        type=int,
        nargs="+",
        default=[128, 192, 256, 384, 512],
        help="the sides of the --n-size-frames frames, pixels (128 192 256 384 512)",
    )
    p.add_argument("--init", type=Path, default=None, help="start from these weights (fine-tuning)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up epochs")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    progress = not args.no_progress
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    spec = PreprocessSpec(image_size=args.image_size, mask_artefacts=args.mask_artefacts)
    shape = (args.frame_shape, args.frame_shape)
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / "data.npz"

    # 1. Data (cached, so that a resumed run trains on the very same arrays).
    real = sorted(args.real.glob("*.fits.gz"))
    real_train = [f for f in real if "_1115" in f.name]
    real_held = [f for f in real if "_1120" in f.name]
    trained_families = [f for f in OUTLIER_FAMILIES if f not in args.held_out_families]
    if cache.exists():
        data = dict(np.load(cache))
    else:
        data = {}
        data["x_frames"], data["y_frames"], _ = synthetic_frames(
            args.n_per_class, args.seed, shape, spec, args.p_effects, progress
        )
        data["x_tiles"], data["y_tiles"] = disk_tiles(
            args.n_scenes,
            args.seed + 500_000,
            spec,
            tile=128,
            shapes=[(768, 768), (1024, 1024), (1536, 1536)],
        )
        data["x_hinode"], data["y_hinode"] = hinode_crops(real_train, args.n_hinode, args.seed, spec)
        outliers, _ = outlier_images(
            args.n_outliers, seed=args.seed + 700_000, shape=(192, 192), families=trained_families
        )
        data["x_out"] = _preprocess_batches(list(outliers), spec)
        # Validation: other seeds, in distribution only.
        data["x_val"], data["y_val"], _ = synthetic_frames(
            max(40, args.n_per_class // 8), EVALUATION_SEED, shape, spec, args.p_effects, progress
        )
        data["x_vtiles"], data["y_vtiles"] = disk_tiles(
            max(2, args.n_scenes // 6), EVALUATION_SEED + 500_000, spec, tile=128, shapes=[(1024, 1024)]
        )
        np.savez(cache, **data)
    if args.n_classic and "x_classic" not in data:
        # Added to a cached run: v1's classic scenes, so that whole frames stay as good as v1's.
        data["x_classic"], data["y_classic"] = classic_frames(
            args.n_classic, args.seed + 800_000, shape, spec
        )
        np.savez(cache, **data)
    if args.n_sky_scenes and "x_sky" not in data:
        # Added to a cached run: the sky above the limb, without prominences, as outliers.
        data["x_sky"] = limb_sky_tiles(
            args.n_sky_scenes, args.seed + 600_000, spec, tile=128, shapes=[(768, 768), (1024, 1024)]
        )
        np.savez(cache, **data)
    if args.n_limb_scenes and "x_limb" not in data:
        # Added to a cached run: the disk's edge without prominences, labelled from the masks.
        data["x_limb"], data["y_limb"] = limb_disk_tiles(
            args.n_limb_scenes,
            args.seed + 650_000,
            spec,
            tile=128,
            shapes=[(768, 768), (1024, 1024), (1536, 1536)],
        )
        np.savez(cache, **data)
    if args.n_extra_frames and "x_extra" not in data:
        # Added to a cached run: new whole frames (not repeats of the first ones), drawn alike.
        data["x_extra"], data["y_extra"], _ = synthetic_frames(
            args.n_extra_frames, args.seed + 100_000, shape, spec, args.p_effects, progress
        )
        np.savez(cache, **data)
    if args.n_focus_frames and "x_focus" not in data:
        # Added to a cached run: frames of the weak features under the conditions they fail in.
        data["x_focus"], data["y_focus"] = focus_frames(
            args.n_focus_frames,
            args.seed + 200_000,
            shape,
            spec,
            args.focus_features,
            args.focus_effects,
            args.p_focus_effect,
            progress,
        )
        np.savez(cache, **data)
    if args.n_band_frames and "x_band" not in data:
        # Added to a cached run: every feature in the plate-scale band it is weak in (at full-disk
        # scales a sunspot or a ribbon is a few pixels), with the training mix of effects.
        data["x_band"], data["y_band"], _ = synthetic_frames(
            args.n_band_frames,
            args.seed + 300_000,
            shape,
            spec,
            args.p_effects,
            progress,
            desc="band frames",
            band=tuple(args.band),
        )
        np.savez(cache, **data)
    if args.n_size_frames and "x_size" not in data:
        # Added to a cached run: every feature in frames of several sizes at random plate scales.
        # The network sees every frame at 128 pixels: the other frames are 192 pixels (the
        # benchmarks' 256), so a frame's size changes how small its feature is at the input.
        data["x_size"], data["y_size"], _ = synthetic_frames(
            args.n_size_frames,
            args.seed + 450_000,
            shape,
            spec,
            args.p_effects,
            progress,
            desc="size frames",
            sizes=args.frame_sizes,
        )
        np.savez(cache, **data)
    if args.n_extra_outliers and "x_out_extra" not in data:
        # Added to a cached run: outliers of every family trained on now (the cached x_out holds
        # only the families trained on when the cache was made).
        more, _ = outlier_images(
            args.n_extra_outliers, seed=args.seed + 720_000, shape=(192, 192), families=trained_families
        )
        data["x_out_extra"] = _preprocess_batches(list(more), spec)
        np.savez(cache, **data)
    print({k: v.shape for k, v in data.items()}, f"{time.perf_counter() - t0:.0f} s", flush=True)

    parts = [
        SlicDataset(
            np.repeat(data["x_frames"], args.frames_repeat, axis=0),
            np.repeat(data["y_frames"], args.frames_repeat),
            augment=True,
            seed=args.seed,
        ),
        SlicDataset(data["x_tiles"], data["y_tiles"], augment=True, seed=args.seed + 1),
        SlicDataset(
            np.repeat(data["x_hinode"], args.hinode_repeats, axis=0),
            np.repeat(data["y_hinode"], args.hinode_repeats),
            augment=True,
            seed=args.seed + 2,
        ),
        SlicDataset(data["x_out"], np.full(len(data["x_out"]), OUTLIER), augment=True, seed=args.seed + 3),
    ]
    if args.n_sky_scenes:
        parts.append(
            SlicDataset(data["x_sky"], np.full(len(data["x_sky"]), OUTLIER), augment=True, seed=args.seed + 5)
        )
    if args.n_limb_scenes:
        parts.append(SlicDataset(data["x_limb"], data["y_limb"], augment=True, seed=args.seed + 6))
    if args.n_classic:
        parts.append(SlicDataset(data["x_classic"], data["y_classic"], augment=True, seed=args.seed + 4))
    if args.n_extra_frames:
        parts.append(SlicDataset(data["x_extra"], data["y_extra"], augment=True, seed=args.seed + 7))
    if args.n_focus_frames:
        parts.append(SlicDataset(data["x_focus"], data["y_focus"], augment=True, seed=args.seed + 9))
    if args.n_band_frames:
        parts.append(SlicDataset(data["x_band"], data["y_band"], augment=True, seed=args.seed + 10))
    if args.n_size_frames:
        parts.append(SlicDataset(data["x_size"], data["y_size"], augment=True, seed=args.seed + 11))
    if args.n_extra_outliers:
        x_more = data["x_out_extra"]
        parts.append(SlicDataset(x_more, np.full(len(x_more), OUTLIER), augment=True, seed=args.seed + 8))
    train = ConcatDataset(parts)
    train.spec = spec
    train.labels = np.concatenate([d._labels[d.indices] for d in parts])  # noqa: SLF001 -- this script's own data

    def set_epoch(epoch):
        for d in parts:
            d.set_epoch(epoch)

    train.set_epoch = set_epoch
    val = SlicDataset(
        np.concatenate([data["x_val"], data["x_vtiles"]]), np.concatenate([data["y_val"], data["y_vtiles"]])
    )

    # 2. Train.
    init = None
    if args.init:
        init = load_model(args.init)
        init.slic_meta = None  # its flags and calibration are measured again below
    result = fit(
        train,
        val,
        model=init,
        head="compact",
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        schedule="cosine",
        warmup=args.warmup,
        seed=args.seed,
        device=args.device,
        checkpoint_dir=args.checkpoint_dir,
        progress=progress,
        flags=False,
    )
    model = result.model
    minutes = (time.perf_counter() - t0) / 60
    print(f"trained in {minutes:.1f} min; validation accuracy {result.metrics['accuracy']:.4f}", flush=True)

    # 3. Flags: domain, calibration, then the out-of-distribution threshold (1 - top calibrated
    # probability: the model was trained with outlier exposure; see sunpy_slic.feature_distance).
    domain = training_domain(
        [{"instrument": "SYNTHETIC", "wavelength": 6563.0, "plate_scale": s} for s in (0.01, 5.0)]
        + [{"instrument": "SOT/NB", "wavelength": 5576.0, "plate_scale": 0.16}]
        + [{"instrument": "SYNTHETIC", "wavelength": 5500.0, "plate_scale": None}],
        plate_scale_margin=1.0,
    )
    set_training_domain(model, domain)
    reference = ConcatDataset(
        [SlicDataset(data["x_frames"], data["y_frames"]), SlicDataset(data["x_tiles"], data["y_tiles"])]
    )
    calib = calibrate(model, val, batch_size=64)
    fit_ood(model, reference, val, method="max_softmax", batch_size=64)
    # The feature distance, for comparison only (not stored).
    _, emb_r, y_r = forward_dataset(model, reference, batch_size=64)
    distance = feature_statistics(emb_r.double().numpy(), y_r.numpy())

    # 4. Held-out measures.
    report = {"recipe": result.recipe, "history": result.history, "minutes": minutes}
    report["validation"] = evaluate(model, val, progress=False)
    held = classify([str(f) for f in real_held], model=model, progress=False)
    report["hinode_held_out"] = {
        "features": held["feature"].tolist(),
        "p_sunspot": [float(v) for v in held["p_sunspot"]],
        "in_distribution": [bool(v) for v in held["in_distribution"]],
    }
    held_out_images, held_names = outlier_images(
        200, seed=EVALUATION_SEED + 7, shape=(192, 192), families=list(OUTLIER_FAMILIES)
    )
    x_o = torch.from_numpy(_preprocess_batches(list(held_out_images), spec).astype(np.float32))
    logits_o, emb_o, _ = forward_dataset(
        model, torch.utils.data.TensorDataset(x_o, torch.zeros(len(x_o), dtype=torch.long)), batch_size=64
    )
    logits_i, emb_i, _ = forward_dataset(model, val, batch_size=64)
    stats = model.slic_meta.extra["ood"]
    temperature = model_temperature(model)
    d_in = score_embeddings(distance, emb_i.double().numpy())
    d_out = score_embeddings(distance, emb_o.double().numpy())
    s_in = score_probabilities(torch.softmax(logits_i.float() / temperature, 1).numpy())
    s_out = score_probabilities(torch.softmax(logits_o.float() / temperature, 1).numpy())

    def auroc(neg, pos):
        scores = np.concatenate([neg, pos])
        ranks = scores.argsort().argsort() + 1.0
        return float((ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2) / (len(neg) * len(pos)))

    names = np.array(held_names)
    report["ood"] = {
        "score": stats["score"],
        "threshold": stats["threshold"],
        "in_domain_flagged": float(np.mean(s_in > stats["threshold"])),
        "families": {
            f: {
                "held_out": f in args.held_out_families,
                "auroc_max_softmax": auroc(s_in, s_out[names == f]),
                "auroc_feature_distance": auroc(d_in, d_out[names == f]),
                "flagged": float(np.mean(s_out[names == f] > stats["threshold"])),
            }
            for f in OUTLIER_FAMILIES
        },
    }
    report["calibration"] = calib.to_dict()
    extra = dict(model.slic_meta.extra)
    meta = result.save(
        args.out,
        provenance={
            "name": "sunpy-slic default v2 (128 px, synthetic + Hinode/SOT crops + outlier exposure)",
            "data": {
                "synthetic_frames_per_class": args.n_per_class,
                # what the (possibly cached) data hold, not only what this run asked for
                "extra_frames_per_class": len(data["y_extra"]) // len(FEATURES) if args.n_extra_frames else 0,
                "extra_outliers": len(data["x_out_extra"]) if args.n_extra_outliers else 0,
                "focus_frames": (
                    {
                        "per_feature": args.n_focus_frames,
                        "features": list(args.focus_features),
                        "forced_effects": list(args.focus_effects),
                        "p_forced": args.p_focus_effect,
                    }
                    if args.n_focus_frames
                    else None
                ),
                "band_frames": (
                    {
                        "per_feature": len(data["y_band"]) // len(FEATURES),
                        "plate_scales_arcsec_per_pixel": list(args.band),
                    }
                    if args.n_band_frames
                    else None
                ),
                "size_frames": (
                    {
                        "per_feature": len(data["y_size"]) // len(FEATURES),
                        "frame_sides_pixels": list(args.frame_sizes),
                    }
                    if args.n_size_frames
                    else None
                ),
                "mask_artefacts": bool(args.mask_artefacts),
                "frame_shape": args.frame_shape,
                "p_effects": args.p_effects,
                "full_disk_scenes": args.n_scenes,
                "hinode_train": [f.name for f in real_train],
                "hinode_repeats": args.hinode_repeats,
                "hinode_held_out": [f.name for f in real_held],
                "outlier_families_trained": trained_families,
                "outlier_families_held_out": list(args.held_out_families),
                "seed": args.seed,
                "evaluation_seeds_from": EVALUATION_SEED,
            },
            "command": "python scripts/train_v2.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "minutes": round(minutes, 1),
        },
        dtype=torch.float16,
    )
    del extra
    model = load_model(args.out)
    report["file"] = {
        "path": str(args.out.relative_to(ROOT)) if args.out.is_relative_to(ROOT) else str(args.out)
    }
    report["file"].update(sha256=_sha(args.out), bytes=args.out.stat().st_size, tensor_sha256=meta.sha256)
    args.report.write_text(json.dumps(report, indent=1, default=float) + "\n")
    print(json.dumps({k: report[k] for k in ("hinode_held_out", "ood", "file")}, indent=1, default=float))


if __name__ == "__main__":
    main()
