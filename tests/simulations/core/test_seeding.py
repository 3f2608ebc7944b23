"""One seeding scheme: a cell's stream depends on (study seed, stream key) only."""

import numpy as np
import pytest

from tests.simulations.core.toy import TOY, ToyConfig
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.core.seeding import (
    as_generator,
    cell_seed,
    child,
    spawn_generators,
    spawn_seeds,
    torch_seed,
)


def test_cell_seed_is_a_function_of_seed_and_key():
    a = np.random.default_rng(cell_seed(3, "x/1")).random(4)
    assert np.array_equal(a, np.random.default_rng(cell_seed(3, "x/1")).random(4))
    assert not np.array_equal(a, np.random.default_rng(cell_seed(4, "x/1")).random(4))
    assert not np.array_equal(a, np.random.default_rng(cell_seed(3, "x/2")).random(4))


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_cell_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        cell_seed(bad, "k")


def test_cell_seed_rejects_empty_keys():
    with pytest.raises(ValueError, match="stream"):
        cell_seed(0, "")


def test_child_equals_spawn_and_is_stateless():
    parent = np.random.SeedSequence(7)
    spawned = np.random.SeedSequence(7).spawn(5)
    for i in range(5):
        assert child(parent, i).generate_state(4).tolist() == spawned[i].generate_state(4).tolist()
    # spawning from the parent does not change what child() gives
    parent.spawn(3)
    assert child(parent, 2).generate_state(2).tolist() == spawned[2].generate_state(2).tolist()
    assert [s.generate_state(1)[0] for s in spawn_seeds(7, 3)] == [
        s.generate_state(1)[0] for s in spawned[:3]]
    assert len(spawn_generators(7, 2)) == 2


def test_as_generator_and_torch_seed():
    g = np.random.default_rng(0)
    assert as_generator(g) is g
    assert as_generator(5).random() == np.random.default_rng(5).random()
    with pytest.raises(ValueError):
        as_generator(-1)
    with pytest.raises(TypeError):
        as_generator("five")
    s = torch_seed(cell_seed(0, "k"))
    assert 0 <= s < 2 ** 63 and s == torch_seed(cell_seed(0, "k"))


def test_subsets_and_orders_of_cells_give_identical_rows():
    full = run_study(TOY, ToyConfig(), seed=11, out_dir=None, progress=False)
    subset = run_study(TOY, ToyConfig(xs=(2.0,), with_fixed=False), seed=11, out_dir=None,
                       progress=False)
    assert [r for r in full.rows if r["x"] == 2.0] == subset.rows
    reordered = run_study(TOY, ToyConfig(xs=(2.0, 0.0, 1.0)), seed=11, out_dir=None,
                          progress=False)
    key = lambda r: (r["x"], r.get("replicate", -1))  # noqa: E731
    assert sorted(full.rows, key=key) == sorted(reordered.rows, key=key)
