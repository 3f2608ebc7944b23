"""Image data for the VQ-VAE: built-in real photographs (CPU default), CIFAR-10, SVHN and image folders.

Every source gives a train and a held-out split of RGB images in [-1, 1] (float32, (3, H, W)).

* ``builtin``: the real photographs shipped inside scikit-image's wheel (RGB: astronaut,
  hubble_deep_field, ihc, motorcycle_left/right, retina, rocket, color; grey, replicated to RGB:
  camera, brick, grass, gravel, moon, coins), each box-halved until its short side is below 1024
  (retina), then cut into 32x32 patches at scales 1, 1/2 and 1/4 (2x2 box averaging), plus the 200
  LFW-subset images (25x25 grey, bicubic upsampled to 32x32, replicated to RGB). Synthetic images
  (chessboards, phantom, logo, text, page) are not used. The split is BY SOURCE IMAGE and fixed:
  held out are the photographs ``chelsea``, ``coffee`` and ``clock_motion`` (grey) and every fifth
  LFW image (indices 4, 9, ..., 199); train patches use stride 16 (overlapping), held-out patches
  stride 32. Sizes: 21,154 train patches (14 photographs, 160 LFW images), 620 held-out (chelsea
  160, coffee 282, clock_motion 138, 40 LFW): 39,680 held-out tokens at 8x8 tokens per patch, more
  than 8 per code at K = 4096.
  Built in about a second, cached in memory.
* ``cifar10`` / ``svhn``: the on-disk formats torchvision writes (``<root>/cifar-10-batches-py/``,
  ``<root>/{train,test}_32x32.mat``), read directly; torchvision (the ``vision`` extra) is needed only
  to download them (``download=True``).
* ``folder``: any folder of images (FFHQ / ImageNet style, with class subfolders or flat). A ``train``
  subfolder and a ``val`` (or ``test``) subfolder are used as the splits when present; otherwise every
  ``heldout_every``-th file (sorted path order) is held out. Train crop as the authors' (ADM) one:
  repeated 2x box halving, bicubic resize so that the short side is a random integer in
  ``[r, ceil(r / 0.8)]``, random r x r crop, no flip; held-out: the same resize to r, centre crop.

The train order is a pure function of (seed, step): step s reads positions ``s mod E`` .. of epoch
``s // E``'s permutation (E = steps per epoch, last incomplete batch dropped), drawn from
``default_rng((seed, epoch))``; random crops draw from ``default_rng((seed, step, index))``. A run
resumed at step s therefore sees exactly the batches an uninterrupted run sees.
"""

from __future__ import annotations

import functools
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

__all__ = ["BUILTIN_HELDOUT", "BUILTIN_TRAIN", "DATASETS", "Loaders", "builtin_patches", "check_dataset",
           "make_loaders"]

DATASETS = ("builtin", "cifar10", "svhn", "folder")
BUILTIN_TRAIN = ("astronaut", "hubble_deep_field", "ihc", "motorcycle_left", "motorcycle_right", "retina",
                 "rocket", "color", "camera", "brick", "grass", "gravel", "moon", "coins")
BUILTIN_HELDOUT = ("chelsea", "coffee", "clock_motion")
_BUILTIN_FILES = {"hubble_deep_field": "hubble_deep_field.jpg", "retina": "retina.jpg",
                  "rocket": "rocket.jpg"}
LFW_HELDOUT_EVERY = 5
MAX_SHORT_SIDE = 1024  # photographs are box-halved until their short side is below this
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
MIN_CROP_FRAC = 0.8


# ----------------------------------------------------------------------------------------- builtin


def _skimage_data_dir() -> Path:
    try:
        import skimage
    except ImportError:
        raise ValueError("dataset 'builtin' needs scikit-image (pip install scikit-image)") from None
    return Path(skimage.__file__).parent / "data"


def _halve(img: np.ndarray) -> np.ndarray:
    """2x2 box average (float32)."""
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    x = img[:h, :w]
    return (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) * np.float32(0.25)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """Rounded to the nearest integer and clipped to [0, 255], as uint8."""
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _patches(img: np.ndarray, size: int, stride: int) -> np.ndarray:
    """All size x size patches at the given stride, row-major: (n, size, size, 3)."""
    if min(img.shape[:2]) < size:
        return np.zeros((0, size, size, 3), dtype=img.dtype)
    view = np.lib.stride_tricks.sliding_window_view(img, (size, size, 3))[::stride, ::stride, 0]
    return view.reshape(-1, size, size, 3)


@functools.lru_cache(maxsize=4)
def builtin_patches(split: str, size: int = 32) -> tuple[np.ndarray, tuple[str, ...]]:
    """The ``builtin`` split as (uint8 array (N, size, size, 3), source name of every patch).

    ``split``: "train" or "heldout". Cached in memory; deterministic order (source list order,
    then scale 1, 1/2, 1/4, then row-major patch position; LFW images last, in index order)."""
    from PIL import Image

    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got split={split!r}")
    folder = _skimage_data_dir()
    names = BUILTIN_TRAIN if split == "train" else BUILTIN_HELDOUT
    stride = size // 2 if split == "train" else size
    chunks: list[np.ndarray] = []
    sources: list[str] = []
    for name in names:
        path = folder / _BUILTIN_FILES.get(name, f"{name}.png")
        try:
            with Image.open(path) as im:
                img = np.asarray(im.convert("RGB"), dtype=np.float32)
        except OSError as err:
            raise ValueError(f"built-in image {str(path)!r} could not be read ({err}); "
                             f"reinstall scikit-image") from None
        while min(img.shape[:2]) >= MAX_SHORT_SIDE:  # retina: 1411 -> 705 (else it dominates)
            img = _halve(img)
        for _ in range(3):  # scales 1, 1/2, 1/4
            # rounded once per image, then cut: the same bytes as rounding the float patches, without
            # their 260 MB float32 copy (both splits in 0.2 s instead of 0.8-1.3 s in a new process)
            p = _patches(_to_uint8(img), size, stride)
            chunks.append(p)
            sources += [name] * len(p)
            img = _halve(img)
    try:
        lfw = np.load(folder / "lfw_subset.npy")
    except (OSError, ValueError) as err:
        raise ValueError(f"built-in LFW subset {str(folder / 'lfw_subset.npy')!r} could not be read "
                         f"({err})") from None
    held = [i % LFW_HELDOUT_EVERY == LFW_HELDOUT_EVERY - 1 for i in range(len(lfw))]
    keep = [i for i in range(len(lfw)) if held[i] == (split != "train")]
    faces = []
    for i in keep:
        face = Image.fromarray(np.clip(lfw[i] * 255.0, 0, 255).astype(np.float32))
        up = np.asarray(face.resize((size, size), Image.BICUBIC), dtype=np.float32)
        faces.append(np.repeat(_to_uint8(up)[:, :, None], 3, axis=2))
        sources.append(f"lfw{i:03d}")
    chunks.append(np.stack(faces))
    arr = np.concatenate(chunks)
    arr.setflags(write=False)
    return arr, tuple(sources)


# ----------------------------------------------------------------------------------------- datasets


class ArrayImages(Dataset):
    """uint8 images (N, H, W, 3) served as float32 (3, H, W) in [-1, 1]."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitems__(self, keys):
        idx = np.asarray([k[0] if isinstance(k, tuple) else k for k in keys])
        x = torch.from_numpy(np.ascontiguousarray(self.images[idx])).permute(0, 3, 1, 2)
        return x.float().div_(127.5).sub_(1.0)

    def __getitem__(self, key):
        return self.__getitems__([key])[0]


def _box_halve_until(im, short: int):
    from PIL import Image

    while min(im.size) >= 2 * short:
        im = im.resize(tuple(s // 2 for s in im.size), resample=Image.BOX)
    return im


def random_crop(im, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """The authors' train crop (see the module docstring) of a PIL image; uint8 (r, r, 3)."""
    from PIL import Image

    short = int(rng.integers(resolution, math.ceil(resolution / MIN_CROP_FRAC) + 1))
    im = _box_halve_until(im, short)
    scale = short / min(im.size)
    im = im.resize(tuple(round(s * scale) for s in im.size), resample=Image.BICUBIC)
    arr = np.asarray(im)
    y = int(rng.integers(arr.shape[0] - resolution + 1))
    x = int(rng.integers(arr.shape[1] - resolution + 1))
    return arr[y:y + resolution, x:x + resolution]


def center_crop(im, resolution: int) -> np.ndarray:
    """The evaluation crop: box halving, bicubic resize of the short side to r, centre r x r crop."""
    from PIL import Image

    im = _box_halve_until(im, resolution)
    scale = resolution / min(im.size)
    im = im.resize(tuple(round(s * scale) for s in im.size), resample=Image.BICUBIC)
    arr = np.asarray(im)
    y, x = (arr.shape[0] - resolution) // 2, (arr.shape[1] - resolution) // 2
    return arr[y:y + resolution, x:x + resolution]


class FolderImages(Dataset):
    """Image files; ``train=True``: random crop drawn from (seed, step, index), else centre crop."""

    def __init__(self, files: list[Path], resolution: int, train: bool, seed: int):
        self.files, self.resolution, self.train, self.seed = files, resolution, train, seed

    def __len__(self):
        return len(self.files)

    def __getitem__(self, key):
        from PIL import Image

        index, step = key if isinstance(key, tuple) else (key, 0)
        path = self.files[index]
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                arr = (random_crop(im, self.resolution, np.random.default_rng((self.seed, step, index)))
                       if self.train else center_crop(im, self.resolution))
        except OSError as err:
            raise ValueError(f"image file {str(path)!r} could not be read ({err})") from None
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float().div_(127.5).sub_(1.0)


def _check_dir(root, dataset: str, expected: str) -> Path:
    if root is None:
        raise ValueError(f"dataset {dataset!r} needs data_root: {expected}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ValueError(f"data_root {str(path)!r} does not exist or is not a folder; expected {expected}")
    return path


def _download_with_torchvision(dataset: str, root: Path) -> None:
    try:
        import torchvision.datasets as tvd
    except Exception as err:  # a broken torchvision raises RuntimeError, not ImportError
        raise ValueError(f"download=True for {dataset!r} needs a working torchvision (the 'vision' extra); "
                         f"importing it failed: {type(err).__name__}: {err}") from None
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        if dataset == "cifar10":
            tvd.CIFAR10(str(root), train=split == "train", download=True)
        else:
            tvd.SVHN(str(root), split=split, download=True)


_CIFAR_EXPECTED = "a folder holding cifar-10-batches-py/ (data_batch_1..5, test_batch; pass download=True)"
_SVHN_EXPECTED = "a folder holding train_32x32.mat and test_32x32.mat (pass download=True)"


def _cifar10_files(root) -> dict[str, list[Path]]:
    """The CIFAR-10 batch files under ``root`` by split; ValueError if one is missing."""
    base = _check_dir(root, "cifar10", _CIFAR_EXPECTED) / "cifar-10-batches-py"
    files = {"train": [base / f"data_batch_{i}" for i in range(1, 6)], "heldout": [base / "test_batch"]}
    for path in files["train"] + files["heldout"]:
        if not path.is_file():
            raise ValueError(f"CIFAR-10 file {str(path)!r} is missing; expected {_CIFAR_EXPECTED}")
    return files


def _svhn_files(root) -> list[Path]:
    """The SVHN train and test files under ``root``; ValueError if one is missing."""
    base = _check_dir(root, "svhn", _SVHN_EXPECTED)
    files = [base / "train_32x32.mat", base / "test_32x32.mat"]
    for path in files:
        if not path.is_file():
            raise ValueError(f"SVHN file {str(path)!r} is missing; expected {_SVHN_EXPECTED}")
    return files


def _cifar10(root, download: bool) -> tuple[np.ndarray, np.ndarray]:
    if download:
        _download_with_torchvision("cifar10", Path(root if root is not None else "data").expanduser())
    out = {}
    for split, paths in _cifar10_files(root).items():
        parts = []
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    data = pickle.load(fh, encoding="bytes")[b"data"]
                parts.append(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            except Exception as err:
                raise ValueError(f"CIFAR-10 file {str(path)!r} is corrupt ({type(err).__name__}: {err}); "
                                 f"expected a pickled batch as torchvision downloads it") from None
        out[split] = np.concatenate(parts)
    return out["train"], out["heldout"]


def _svhn(root, download: bool) -> tuple[np.ndarray, np.ndarray]:
    from scipy.io import loadmat

    if download:
        _download_with_torchvision("svhn", Path(root if root is not None else "data").expanduser())
    out = []
    for path in _svhn_files(root):
        try:
            x = np.asarray(loadmat(path)["X"], dtype=np.uint8)  # (32, 32, 3, N)
        except Exception as err:
            raise ValueError(f"SVHN file {str(path)!r} is corrupt ({type(err).__name__}: {err})") from None
        if x.ndim != 4 or x.shape[:3] != (32, 32, 3):
            raise ValueError(f"SVHN file {str(path)!r} has X of shape {x.shape}, expected (32, 32, 3, N)")
        out.append(np.ascontiguousarray(x.transpose(3, 0, 1, 2)))
    return out[0], out[1]


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _folder_files(root, heldout_every: int) -> tuple[list[Path], list[Path]]:
    expected = "a folder of images (ImageFolder class subfolders or flat; optional train/ and val/)"
    base = _check_dir(root, "folder", expected)
    heldout_dir = next((base / n for n in ("val", "test") if (base / n).is_dir()), None)
    if (base / "train").is_dir() and heldout_dir is not None:
        train, heldout = _image_files(base / "train"), _image_files(heldout_dir)
    else:
        files = _image_files(base)
        train = [f for i, f in enumerate(files) if i % heldout_every != heldout_every - 1]
        heldout = [f for i, f in enumerate(files) if i % heldout_every == heldout_every - 1]
    if not train or not heldout:
        raise ValueError(f"data_root {str(base)!r} holds no images for the "
                         f"{'train' if not train else 'held-out'} split (extensions {IMAGE_EXTENSIONS}); "
                         f"expected {expected}")
    from PIL import Image

    for path in (train[0], heldout[0]):  # cheap header check; every file is checked when read
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception as err:
            raise ValueError(f"image file {str(path)!r} is corrupt ({type(err).__name__}: {err})") from None
    return train, heldout


# ----------------------------------------------------------------------------------------- loaders


class StepBatchSampler(Sampler):
    """Batches for training steps ``start_step, ..., stop_step - 1`` (a pure function of seed and step).

    Yields lists of ``(index, step)`` keys: this rank's ``batch_size / world_size`` share of the global
    batch of each step (rank r takes positions r*b .. (r+1)*b - 1 of it)."""

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int, stop_step: int,
                 rank: int = 0, world_size: int = 1):
        if batch_size > n:
            raise ValueError(f"batch_size={batch_size} exceeds the {n} training images")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.stop, self.rank, self.world = start_step, stop_step, rank, world_size
        self.per_epoch = n // batch_size
        self.local = batch_size // world_size

    def __len__(self):
        return max(0, self.stop - self.start)

    def batch(self, step: int) -> list[int]:
        """Global-batch indices of ``step``."""
        epoch, pos = divmod(step, self.per_epoch)
        perm = np.random.default_rng((self.seed, epoch)).permutation(self.n)
        return perm[pos * self.batch_size:(pos + 1) * self.batch_size].tolist()

    def __iter__(self):
        perm_epoch, perm = None, None
        for step in range(self.start, self.stop):
            epoch, pos = divmod(step, self.per_epoch)
            if epoch != perm_epoch:
                perm_epoch, perm = epoch, np.random.default_rng((self.seed, epoch)).permutation(self.n)
            lo = pos * self.batch_size + self.rank * self.local
            yield [(int(i), step) for i in perm[lo:lo + self.local]]


@dataclass
class Loaders:
    """``train``: one batch per step from ``start_step`` to ``config.steps``; ``heldout``: this rank's
    shard of the held-out split (``config.eval_images`` evenly spaced images of it if set), in order;
    ``n_heldout``: the evaluated images (all ranks); ``description``: what was loaded."""

    train: DataLoader
    heldout: DataLoader
    n_train: int
    n_heldout: int
    description: str


def _check_resolution(name: str, res: int) -> None:
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got dataset={name!r}")
    if name == "builtin" and res != 32:
        raise ValueError(f"dataset 'builtin' gives 32x32 patches, got resolution={res}")
    if name in ("cifar10", "svhn") and res != 32:
        raise ValueError(f"dataset {name!r} has 32x32 images, got resolution={res}")


def check_dataset(config) -> None:
    """The cheap checks of ``config``'s data before any run starts (one clear ValueError): the
    dataset name and resolution, the folder, the expected files (without reading them unless the
    folder layout needs it: a folder dataset's image list and first images). With
    ``download=True`` the files are fetched when the run loads them."""
    name = config.dataset
    _check_resolution(name, config.resolution)
    if name == "cifar10" and not config.download:
        _cifar10_files(config.data_root)
    elif name == "svhn" and not config.download:
        _svhn_files(config.data_root)
    elif name == "folder":
        _folder_files(config.data_root, config.heldout_every)


def make_datasets(config) -> tuple[Dataset, Dataset, str]:
    """(train, held-out, description) for ``config.dataset``; errors are one clear ValueError."""
    name, res = config.dataset, config.resolution
    _check_resolution(name, res)
    if name == "builtin":
        (tr, tr_src), (ho, ho_src) = builtin_patches("train"), builtin_patches("heldout")
        desc = (f"builtin: {len(tr)} train patches from {len(set(tr_src))} images, {len(ho)} held-out "
                f"patches from {', '.join(BUILTIN_HELDOUT)} and {len(set(ho_src)) - len(BUILTIN_HELDOUT)} "
                f"LFW images")
        return ArrayImages(tr), ArrayImages(ho), desc
    if name in ("cifar10", "svhn"):
        tr, ho = (_cifar10 if name == "cifar10" else _svhn)(config.data_root, config.download)
        return (ArrayImages(tr), ArrayImages(ho),
                f"{name}: {len(tr)} train, {len(ho)} test images from {config.data_root}")
    tr, ho = _folder_files(config.data_root, config.heldout_every)
    return (FolderImages(tr, res, True, config.seed), FolderImages(ho, res, False, config.seed),
            f"folder: {len(tr)} train, {len(ho)} held-out images from {config.data_root}")


def make_loaders(config, *, start_step: int = 0, rank: int = 0, world_size: int = 1) -> Loaders:
    """Train and held-out loaders for a :class:`~vqmatch.simulations.vqvae.config.TrainConfig`.

    The global batch ``config.batch_size`` is split evenly over ``world_size`` ranks; the held-out
    split is sharded round-robin (rank r takes images r, r + W, ...), evaluated in batches of
    ``config.eval_batch_size`` per rank. ``config.num_workers`` worker processes (0: load in the
    main process)."""
    if config.batch_size % world_size:
        raise ValueError(f"batch_size={config.batch_size} must be divisible by world_size={world_size}")
    train_set, heldout_set, desc = make_datasets(config)
    sampler = StepBatchSampler(len(train_set), config.batch_size, config.seed, start_step, config.steps,
                               rank, world_size)
    workers = config.num_workers
    pin = config.device != "cpu" and torch.cuda.is_available()  # page-locked batches for CUDA copies
    common = {"num_workers": workers, "persistent_workers": False, "pin_memory": pin,
              "collate_fn": _collate, "generator": torch.Generator().manual_seed(config.seed)}
    train = DataLoader(train_set, batch_sampler=sampler, **common)
    chosen = evenly_spaced(len(heldout_set), config.eval_images or len(heldout_set))
    n_eval = len(chosen)
    shard = chosen[rank::world_size].tolist()
    eval_batches = [shard[i:i + config.eval_batch_size] for i in range(0, len(shard), config.eval_batch_size)]
    heldout = DataLoader(heldout_set, batch_sampler=eval_batches, **common)
    return Loaders(train, heldout, len(train_set), n_eval, desc)


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """``min(k, n)`` evenly spaced indices of ``range(n)``, first and last included (all if k >= n)."""
    if k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _collate(batch):
    return batch if isinstance(batch, torch.Tensor) else torch.stack(batch)

