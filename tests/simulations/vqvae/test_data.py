"""Data sources: builtin split sizes and disjointness, CIFAR-10 / SVHN / folder readers, the step-indexed
sampler, and one clear ValueError for a missing, empty or corrupt dataset."""

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from vqmatch.simulations.vqvae import data
from vqmatch.simulations.vqvae.config import TrainConfig
from vqmatch.simulations.vqvae.data import BUILTIN_HELDOUT, StepBatchSampler, builtin_patches, make_loaders

BUILTIN_TRAIN_PATCHES, BUILTIN_HELDOUT_PATCHES = 21154, 620


def test_builtin_sizes_split_by_source():
    builtin_patches.cache_clear()
    train, train_src = builtin_patches("train")
    heldout, heldout_src = builtin_patches("heldout")
    assert train.shape == (BUILTIN_TRAIN_PATCHES, 32, 32, 3) and train.dtype == np.uint8
    assert heldout.shape == (BUILTIN_HELDOUT_PATCHES, 32, 32, 3)
    assert len(train_src) == len(train) and len(heldout_src) == len(heldout)
    assert not set(train_src) & set(heldout_src)  # no held-out image contributes to train
    assert set(BUILTIN_HELDOUT) <= set(heldout_src)
    lfw_heldout = {s for s in heldout_src if s.startswith("lfw")}
    lfw_train = {s for s in train_src if s.startswith("lfw")}
    assert len(lfw_heldout) == 40 and len(lfw_train) == 160
    # no held-out patch appears verbatim among the train patches
    train_keys = {p.tobytes() for p in train}
    assert not any(p.tobytes() in train_keys for p in heldout if p.std() > 2)
    assert builtin_patches("train")[0] is train  # cached


def test_builtin_loader_tensors_and_determinism(tiny_config):
    loaders = make_loaders(dataclasses.replace(tiny_config, eval_images=0))
    assert (loaders.n_train, loaders.n_heldout) == (BUILTIN_TRAIN_PATCHES, BUILTIN_HELDOUT_PATCHES)
    batches = list(loaders.train)
    assert len(batches) == tiny_config.steps
    x = batches[0]
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    again = list(make_loaders(tiny_config).train)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    resumed = list(make_loaders(tiny_config, start_step=2).train)  # resume needs only the step
    assert len(resumed) == 2 and torch.equal(resumed[0], batches[2]) and torch.equal(resumed[1], batches[3])
    assert sum(len(b) for b in loaders.heldout) == BUILTIN_HELDOUT_PATCHES
    subset = make_loaders(dataclasses.replace(tiny_config, eval_images=10))
    assert subset.n_heldout == 10 and sum(len(b) for b in subset.heldout) == 10


def test_sampler_epochs_are_permutations_and_ranks_split_the_global_batch():
    s = StepBatchSampler(n=20, batch_size=6, seed=3, start_step=0, stop_step=6)
    steps = [[i for i, _ in b] for b in s]
    epoch = [i for batch in steps[:3] for i in batch]
    assert len(epoch) == len(set(epoch))  # an epoch has no repeats
    assert steps[:3] != steps[3:]  # a new permutation per epoch
    assert [s.batch(k) for k in range(6)] == steps
    parts = [list(StepBatchSampler(20, 6, 3, 4, 5, rank=r, world_size=2)) for r in range(2)]
    assert [i for i, _ in parts[0][0] + parts[1][0]] == steps[4]
    assert all(k == 4 for _, k in parts[0][0])
    with pytest.raises(ValueError, match="exceeds"):
        StepBatchSampler(n=4, batch_size=6, seed=0, start_step=0, stop_step=1)


def _cifar_root(tmp_path, n=12):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        payload = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [0] * n}
        with open(base / name, "wb") as fh:
            pickle.dump(payload, fh)
    return tmp_path


def test_cifar10_reader(tmp_path):
    root = _cifar_root(tmp_path)
    cfg = TrainConfig(dataset="cifar10", data_root=str(root), batch_size=8, steps=2)
    loaders = make_loaders(cfg)
    assert (loaders.n_train, loaders.n_heldout) == (60, 12)
    raw = pickle.load(open(root / "cifar-10-batches-py" / "test_batch", "rb"))[b"data"][0]
    first = next(iter(loaders.heldout))[0]
    expected = torch.from_numpy(raw.reshape(3, 32, 32).astype(np.float32)) / 127.5 - 1
    assert torch.allclose(first, expected)


def test_svhn_reader(tmp_path):
    import scipy.io as scipy_io
    rng = np.random.default_rng(0)
    for name, n in (("train_32x32.mat", 16), ("test_32x32.mat", 5)):
        scipy_io.savemat(tmp_path / name, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8),
                                           "y": np.ones((n, 1))})
    loaders = make_loaders(TrainConfig(dataset="svhn", data_root=str(tmp_path), batch_size=8, steps=1))
    assert (loaders.n_train, loaders.n_heldout) == (16, 5)


def _write_images(folder, n, size=(40, 30)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    for i in range(n):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")


def test_folder_reader_crops_and_splits(tmp_path):
    _write_images(tmp_path / "cls_a", 6)
    _write_images(tmp_path / "cls_b", 4, size=(64, 48))
    cfg = TrainConfig(dataset="folder", data_root=str(tmp_path), heldout_every=5, batch_size=4, steps=3)
    loaders = make_loaders(cfg)
    assert (loaders.n_train, loaders.n_heldout) == (8, 2)
    batches = list(loaders.train)
    assert batches[0].shape == (4, 3, 32, 32)
    again = list(make_loaders(cfg).train)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))  # crops from (seed, step)
    # train/ + val/ subfolders are used as the splits
    _write_images(tmp_path / "split" / "train" / "x", 5)
    _write_images(tmp_path / "split" / "val" / "x", 3)
    loaders = make_loaders(dataclasses.replace(cfg, data_root=str(tmp_path / "split")))
    assert (loaders.n_train, loaders.n_heldout) == (5, 3)
    assert next(iter(loaders.heldout)).shape == (3, 3, 32, 32)


def test_random_and_center_crop_follow_the_short_side_rule():
    from PIL import Image

    im = Image.fromarray(np.zeros((300, 1000, 3), dtype=np.uint8))
    rng = np.random.default_rng(0)
    assert data.random_crop(im, 64, rng).shape == (64, 64, 3)
    assert data.center_crop(im, 64).shape == (64, 64, 3)
    assert data.center_crop(Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8)), 64).shape == (64, 64, 3)


@pytest.mark.parametrize("dataset", ["cifar10", "svhn", "folder"])
def test_missing_path_is_one_clear_error(tmp_path, dataset):
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match=rf"data_root '{missing}' does not exist"):
        make_loaders(TrainConfig(dataset=dataset, data_root=str(missing)))
    with pytest.raises(ValueError, match="needs data_root"):
        make_loaders(TrainConfig(dataset=dataset))


def test_empty_paths_are_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"holds no images.*expected a folder of images"):
        make_loaders(TrainConfig(dataset="folder", data_root=str(tmp_path)))
    with pytest.raises(ValueError, match=r"cifar-10-batches-py/data_batch_1' is missing"):
        make_loaders(TrainConfig(dataset="cifar10", data_root=str(tmp_path)))
    with pytest.raises(ValueError, match=r"train_32x32.mat' is missing"):
        make_loaders(TrainConfig(dataset="svhn", data_root=str(tmp_path)))


def test_corrupt_files_are_one_clear_error(tmp_path):
    (tmp_path / "img").mkdir()
    for i in range(3):
        (tmp_path / "img" / f"{i}.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"0.png' is corrupt"):
        make_loaders(TrainConfig(dataset="folder", data_root=str(tmp_path / "img"), heldout_every=2))
    root = _cifar_root(tmp_path / "c")
    (root / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"data_batch_3' is corrupt"):
        make_loaders(TrainConfig(dataset="cifar10", data_root=str(root)))
    (tmp_path / "s").mkdir()
    for name in ("train_32x32.mat", "test_32x32.mat"):
        (tmp_path / "s" / name).write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"train_32x32.mat' is corrupt"):
        make_loaders(TrainConfig(dataset="svhn", data_root=str(tmp_path / "s")))


def test_a_corrupt_file_found_while_training_names_the_file(tmp_path):
    _write_images(tmp_path, 4)
    (tmp_path / "001.png").write_bytes(b"truncated")
    ds = data.FolderImages(sorted(tmp_path.glob("*.png")), 32, True, 0)
    with pytest.raises(ValueError, match=r"001.png' could not be read"):
        ds[(1, 0)]


def test_wrong_resolution_for_fixed_size_sources(tmp_path):
    with pytest.raises(ValueError, match="gives 32x32 patches"):
        data.make_datasets(dataclasses.replace(TrainConfig(), resolution=64))
    _write_images(tmp_path, 4)  # folders take any resolution (here 64: upsampled)
    loaders = make_loaders(TrainConfig(dataset="folder", data_root=str(tmp_path), resolution=64,
                                       heldout_every=2, batch_size=2, steps=1))
    assert next(iter(loaders.train)).shape == (2, 3, 64, 64)


def test_check_dataset_checks_the_layout_without_reading_the_files(tmp_path):
    """The CLI's check before any run: names a missing file, but does not load the data (a
    corrupt batch is found when a run reads it)."""
    from vqmatch.simulations.vqvae.data import check_dataset, make_datasets

    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    cfg = TrainConfig(dataset="cifar10", data_root=str(tmp_path))
    with pytest.raises(ValueError, match=r"data_batch_1' is missing"):
        check_dataset(cfg)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (base / name).write_bytes(b"not a pickle")
    check_dataset(cfg)  # the layout is right
    with pytest.raises(ValueError, match=r"data_batch_1' is corrupt"):
        make_datasets(cfg)
    with pytest.raises(ValueError, match="resolution=64"):
        check_dataset(TrainConfig(dataset="builtin", resolution=64))
