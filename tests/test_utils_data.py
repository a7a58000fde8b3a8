"""tg.utils.data against torch.utils.data: batches, samplers, collate rules, splits, errors."""

import collections
import importlib
import warnings

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.utils import data as tud

torch = pytest.importorskip("torch")
tdata = torch.utils.data

Point = collections.namedtuple("Point", "x y")


def plain(batch):
    """A batch as plain Python, the same for both libraries: tensors become (dtype, values)."""
    if isinstance(batch, tg.Tensor):
        return ("tensor", str(batch.dtype), batch.numpy().tolist())
    if isinstance(batch, torch.Tensor):
        return ("tensor", str(batch.dtype).removeprefix("torch."), batch.numpy().tolist())
    if isinstance(batch, dict):
        return {key: plain(value) for key, value in batch.items()}
    if isinstance(batch, tuple):
        return (type(batch).__name__, *[plain(v) for v in batch])
    if isinstance(batch, list):
        return [plain(v) for v in batch]
    return batch


def _arrays(m=11, features=3):
    """X row i is filled with i (float32), y[i] = i (int64): each batch shows its examples."""
    X = np.repeat(np.arange(m, dtype=np.float32)[:, None], features, axis=1)
    return X, np.arange(m, dtype=np.int64)


def _both(m=11):
    X, y = _arrays(m)
    return tud.TensorDataset(X, y), tdata.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))


def _batches(loader):
    return [plain(batch) for batch in loader]


# ------------------------------------------------------------------ module paths and defaults

def test_the_module_paths_pytorch_code_imports_from_hold_the_same_objects():
    for module in ("dataloader", "dataset", "sampler"):
        ours = importlib.import_module(f"tinygrad_c2.utils.data.{module}")
        for name in ours.__all__:
            assert getattr(ours, name) is getattr(tud, name)
    assert tg.utils.data.dataloader.DataLoader is tud.DataLoader is tg.data.DataLoader
    assert tg.data.TensorDataset is tud.TensorDataset and tg.data.Dataset is tud.Dataset
    for name in ("DataLoader", "default_collate", "default_convert", "get_worker_info"):
        assert hasattr(tdata.dataloader, name) and hasattr(tud.dataloader, name)
    for name in ("Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
                 "random_split"):
        assert hasattr(tdata.dataset, name) and hasattr(tud.dataset, name)
    for name in ("Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
                 "WeightedRandomSampler", "BatchSampler"):
        assert hasattr(tdata.sampler, name) and hasattr(tud.sampler, name)


def test_dataset_and_sampler_subscript_in_type_hints_as_in_torch():
    class Squares(tud.Dataset[int]):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i * i

    assert isinstance(Squares(), tud.Dataset) and Squares()[2] == 4
    assert tud.IterableDataset[int] is not None and tud.Sampler[int] is not None
    assert [b.tolist() for b in tud.DataLoader(Squares(), batch_size=2)] == [[0, 1], [4]]


def test_defaults_are_pytorchs_batch_size_1_and_no_shuffle():
    ours, theirs = _both(5)
    assert _batches(tud.DataLoader(ours)) == _batches(tdata.DataLoader(theirs))
    loader = tud.DataLoader(ours)
    assert len(loader) == 5 and loader.batch_size == 1 and not loader.drop_last
    assert type(loader.sampler) is tud.SequentialSampler and loader.generator is None
    assert type(tdata.DataLoader(theirs).sampler) is tdata.SequentialSampler


@pytest.mark.parametrize("m, batch_size, drop_last", [(11, 4, False), (11, 4, True), (12, 4, False),
                                                      (12, 4, True), (3, 5, False), (3, 5, True)])
def test_sequential_batches_indices_values_and_dtypes_match_torch(m, batch_size, drop_last):
    ours, theirs = _both(m)
    a = tud.DataLoader(ours, batch_size=batch_size, drop_last=drop_last)
    b = tdata.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)
    assert len(a) == len(b)
    assert _batches(a) == _batches(b)  # lists [X_b, y_b], float32 and int64


def test_the_courses_x_y_pair_gives_the_same_batches_as_a_tensor_dataset():
    X, y = _arrays(9)
    _, theirs = _both(9)
    assert _batches(tud.DataLoader((X, y), batch_size=4)) == \
        _batches(tdata.DataLoader(theirs, batch_size=4))


def test_a_given_sampler_order_gives_torchs_batches():
    ours, theirs = _both(10)
    order = [7, 2, 9, 0, 4, 4, 1]
    a = tud.DataLoader(ours, batch_size=3, sampler=order)
    b = tdata.DataLoader(theirs, batch_size=3, sampler=order)
    assert len(a) == len(b) == 3 and _batches(a) == _batches(b)
    a = tud.DataLoader(ours, batch_size=3, sampler=tud.SequentialSampler(ours), drop_last=True)
    b = tdata.DataLoader(theirs, batch_size=3, sampler=tdata.SequentialSampler(theirs),
                         drop_last=True)
    assert _batches(a) == _batches(b)


def test_a_batch_sampler_gives_torchs_batches():
    ours, theirs = _both(10)
    groups = [[3, 1], [0], [9, 8, 7]]
    a, b = tud.DataLoader(ours, batch_sampler=groups), tdata.DataLoader(theirs,
                                                                         batch_sampler=groups)
    assert len(a) == 3 and _batches(a) == _batches(b)
    assert a.batch_size is None and b.batch_size is None
    sampler = tud.BatchSampler(tud.SequentialSampler(range(7)), 3, drop_last=False)
    assert list(sampler) == list(tdata.BatchSampler(tdata.SequentialSampler(range(7)), 3, False))
    assert len(sampler) == 3


def _dict_dataset(base):
    """A user data set on `base`: example i is a dict of a float array, an int and a string."""

    class Dicts(base):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float64), "label": i % 3, "name": f"n{i}"}

    return Dicts()


def test_a_user_dataset_of_dicts_collates_like_torch():
    a = tud.DataLoader(_dict_dataset(tud.Dataset), batch_size=3, sampler=[6, 0, 3, 2, 5])
    b = tdata.DataLoader(_dict_dataset(tdata.Dataset), batch_size=3, sampler=[6, 0, 3, 2, 5])
    assert _batches(a) == _batches(b)


def test_a_list_of_examples_is_a_dataset_as_in_torch():
    X, y = _arrays(5)
    examples = list(zip(X, y.tolist(), strict=True))
    a = tud.DataLoader(examples, batch_size=2)
    b = tdata.DataLoader(examples, batch_size=2)
    assert _batches(a) == _batches(b)
    assert _batches(tud.DataLoader(np.arange(5.0), batch_size=2)) == \
        _batches(tdata.DataLoader(np.arange(5.0), batch_size=2))


def test_batch_size_none_yields_converted_examples_like_torch():
    ours, theirs = _both(4)
    assert _batches(tud.DataLoader(ours, batch_size=None)) == \
        _batches(tdata.DataLoader(theirs, batch_size=None))
    assert len(tud.DataLoader(ours, batch_size=None)) == 4


def test_a_custom_collate_fn_gets_the_list_of_examples():
    ours, theirs = _both(5)
    a = tud.DataLoader(ours, batch_size=2, collate_fn=lambda examples: examples)
    b = tdata.DataLoader(theirs, batch_size=2, collate_fn=lambda examples: examples)
    assert _batches(a) == _batches(b)


def test_the_fast_path_equals_per_example_collation():
    # One fancy index per array must give exactly what default_collate of the examples gives.
    X, y = _arrays(13)
    ours = tud.TensorDataset(X, y)
    examples = [ours[i] for i in range(13)]
    sampler = [5, 1, 12, 0, 7, 3, 3]
    fast = _batches(tud.DataLoader(ours, batch_size=3, sampler=sampler))
    slow = _batches(tud.DataLoader(examples, batch_size=3, sampler=sampler))
    assert fast == slow
    subset = tud.Subset(ours, [4, 8, 2, 10])
    assert _batches(tud.DataLoader(subset, batch_size=3)) == \
        _batches(tud.DataLoader([subset[i] for i in range(4)], batch_size=3))


def test_batches_never_share_memory_with_the_data_set():
    X, y = _arrays(6)
    for shuffle in (False, True):
        for xb, _ in tud.DataLoader((X, y), batch_size=4, shuffle=shuffle):
            xb.numpy()[:] = -1.0
    assert X.min() == 0.0


def _counting(base):
    """An iterable data set class on `base` yielding 0, 1, ..., n - 1."""

    class Counting(base):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    return Counting


Counting, TorchCounting = _counting(tud.IterableDataset), _counting(tdata.IterableDataset)


@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (None, False)])
def test_an_iterable_dataset_is_batched_in_order_like_torch(batch_size, drop_last):
    a = tud.DataLoader(Counting(8), batch_size=batch_size, drop_last=drop_last)
    b = tdata.DataLoader(TorchCounting(8), batch_size=batch_size, drop_last=drop_last)
    assert _batches(a) == _batches(b)
    assert len(a) == len(b)


def test_worker_options_are_accepted_and_batches_are_made_in_process():
    ours, _ = _both(9)
    single = _batches(tud.DataLoader(ours, batch_size=4))
    called = []
    workers = tud.DataLoader(ours, batch_size=4, num_workers=2, pin_memory=True,
                             persistent_workers=True, prefetch_factor=2, timeout=5,
                             worker_init_fn=called.append)
    assert _batches(workers) == single and called == []  # no workers, so it is never called
    assert tud.get_worker_info() is None


# ------------------------------------------------------------------ shuffling and samplers

def test_shuffle_true_is_a_new_permutation_each_epoch_covering_every_example():
    ours, _ = _both(23)
    loader = tud.DataLoader(ours, batch_size=5, shuffle=True,
                            generator=tg.Generator().manual_seed(4))
    assert type(loader.sampler) is tud.RandomSampler
    epochs = [[i for _, yb in loader for i in yb.tolist()] for _ in range(2)]
    for order in epochs:
        assert sorted(order) == list(range(23))
    assert epochs[0] != epochs[1]
    again = tud.DataLoader(ours, batch_size=5, shuffle=True,
                           generator=tg.Generator().manual_seed(4))
    assert [i for _, yb in again for i in yb.tolist()] == epochs[0]


@pytest.mark.parametrize("n, num_samples", [(5, None), (5, 3), (5, 12), (4, 8)])
def test_random_sampler_without_replacement_has_torchs_counts(n, num_samples):
    # RNGs differ, so compare semantics: length, and whole permutations one after another.
    ours = list(tud.RandomSampler(range(n), num_samples=num_samples,
                                  generator=tg.Generator().manual_seed(0)))
    theirs = list(tdata.RandomSampler(range(n), num_samples=num_samples,
                                      generator=torch.Generator().manual_seed(0)))
    assert len(ours) == len(theirs) == len(tud.RandomSampler(range(n), num_samples=num_samples))
    for got in (ours, theirs):
        for start in range(0, len(got), n):
            block = got[start:start + n]
            assert len(set(block)) == len(block) and set(block) <= set(range(n))


def test_random_sampler_with_replacement_draws_num_samples_in_range_with_repeats():
    ours = list(tud.RandomSampler(range(3), replacement=True, num_samples=300,
                                  generator=tg.Generator().manual_seed(1)))
    theirs = list(tdata.RandomSampler(range(3), replacement=True, num_samples=300))
    for got in (ours, theirs):
        assert len(got) == 300 and set(got) == {0, 1, 2}
    assert len(list(tud.RandomSampler(range(3), replacement=True))) == 3


def test_subset_random_sampler_permutes_its_indices():
    ours = list(tud.SubsetRandomSampler([10, 20, 30, 40], generator=tg.Generator().manual_seed(2)))
    theirs = list(tdata.SubsetRandomSampler([10, 20, 30, 40]))
    assert sorted(ours) == sorted(theirs) == [10, 20, 30, 40]
    assert len(tud.SubsetRandomSampler([1, 2])) == 2


def test_weighted_random_sampler_follows_the_weights_like_torch():
    weights = [0.1, 0.9, 0.0]
    ours = list(tud.WeightedRandomSampler(weights, 2000, generator=tg.Generator().manual_seed(0)))
    theirs = list(tdata.WeightedRandomSampler(weights, 2000))
    for got in (ours, theirs):
        counts = np.bincount(got, minlength=3)
        assert len(got) == 2000 and counts[2] == 0 and 0.85 < counts[1] / 2000 < 0.95
    unique = list(tud.WeightedRandomSampler([1.0, 1.0, 2.0], 3, replacement=False))
    assert sorted(unique) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="invalid multinomial distribution"):
        list(tdata.WeightedRandomSampler([1.0, -1.0], 2))
    with pytest.raises(RuntimeError, match="invalid multinomial distribution"):
        list(tud.WeightedRandomSampler([1.0, -1.0], 2))
    with pytest.raises(RuntimeError, match="without replacement from 1 non-zero"):
        list(tud.WeightedRandomSampler([1.0, 0.0], 2, replacement=False))


def test_a_subclassed_sampler_is_iterated_not_bypassed():
    class Reversed(tud.SequentialSampler):
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))

    ours, _ = _both(5)
    loader = tud.DataLoader(ours, batch_size=2, sampler=Reversed(ours))
    assert [yb.tolist() for _, yb in loader] == [[4, 3], [2, 1], [0]]


def test_seed_none_shuffling_follows_manual_seed():
    ours, _ = _both(30)
    loader = tud.DataLoader(ours, batch_size=30, shuffle=True)
    tg.manual_seed(5)
    a = next(iter(loader))[1].tolist()
    tg.manual_seed(5)
    assert next(iter(loader))[1].tolist() == a


# ------------------------------------------------------------------ default_collate

COLLATE_CASES = {
    "python ints": [1, 2, 3],
    "python floats": [1.0, 2.5],
    "bools": [True, False],
    "numpy float64 arrays": [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
    "numpy float32 arrays": [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)],
    "numpy int32 scalars": [np.int32(1), np.int32(2)],
    "numpy float64 scalars": [np.float64(0.5), np.float64(1.5)],
    "strings": ["a", "b"],
    "tuples": [(np.zeros(2), 1), (np.ones(2), 0)],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"a": 1, "b": [np.float32(1)]}, {"a": 2, "b": [np.float32(2)]}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
    "nested": [({"x": (1, 2)}, "s"), ({"x": (3, 4)}, "t")],
}


@pytest.mark.parametrize("name", COLLATE_CASES)
def test_default_collate_matches_torchs_structure_dtypes_and_values(name):
    batch = COLLATE_CASES[name]
    assert plain(tud.default_collate(batch)) == plain(tdata.default_collate(batch))


def test_default_collate_stacks_tensors():
    ours = tud.default_collate([tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])])
    theirs = tdata.default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
    assert plain(ours) == plain(theirs) and not ours.requires_grad


@pytest.mark.parametrize("batch, error", [
    ([[1, 2], [3]], RuntimeError),
    ([np.zeros(2), np.zeros(3)], RuntimeError),
    ([np.array(["a"]), np.array(["b"])], TypeError),
    ([None, None], TypeError),
    ([object(), object()], TypeError),
])
def test_default_collate_refuses_what_torch_refuses_with_the_same_type(batch, error):
    with pytest.raises(error):
        tdata.default_collate(batch)
    with pytest.raises(error, match="default_collate|equal size"):
        tud.default_collate(batch)


def test_default_convert_matches_torch():
    data = (np.arange(3), "x", 1.5, [np.float32(1)], {"k": np.zeros(2)})
    assert plain(tud.default_convert(data)) == plain(tdata.default_convert(data))


# ------------------------------------------------------------------ random_split, Subset, Concat

@pytest.mark.parametrize("n", [3, 7, 10, 11, 100, 101])
@pytest.mark.parametrize("fractions", [[0.3, 0.3, 0.4], [0.5, 0.5], [0.1] * 10, [1 / 3] * 3,
                                       [0.8, 0.2], [0.05, 0.9, 0.05]])
def test_random_split_sizes_for_fractions_follow_torchs_remainder_rule(n, fractions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # both warn about empty splits
        ours = tud.random_split(range(n), fractions, generator=tg.Generator().manual_seed(0))
        theirs = tdata.random_split(range(n), fractions, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(n))


def test_random_split_with_lengths_is_reproducible_disjoint_and_covers():
    X, y = _arrays(10)
    dataset = tud.TensorDataset(X, y)
    a = tud.random_split(dataset, [3, 7], generator=tg.Generator().manual_seed(42))
    b = tud.random_split(dataset, [3, 7], generator=tg.Generator().manual_seed(42))
    assert [s.indices for s in a] == [s.indices for s in b]
    assert sorted(a[0].indices + a[1].indices) == list(range(10))
    assert all(isinstance(s, tud.Subset) and s.dataset is dataset for s in a)
    assert a[0][1][1].item() == a[0].indices[1]


def test_random_split_warns_of_an_empty_split_as_torch_does():
    # floor gives [0, 0, 2]; the one left over goes to split 0, so split 1 stays empty.
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        tdata.random_split(range(3), [0.1, 0.1, 0.8])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        assert [len(s) for s in tud.random_split(range(3), [0.1, 0.1, 0.8])] == [1, 0, 2]


@pytest.mark.parametrize("lengths", [[3, 3], [1.5, -0.5], [0.5, 0.4]])
def test_random_split_bad_lengths_raise_value_error_like_torch(lengths):
    with pytest.raises(ValueError):
        tdata.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="Sum of input lengths|Fraction at index"):
        tud.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="lengths must be ints >= 0"):
        tud.random_split(range(10), [-1, 11])  # torch accepts it and makes a nonsense split


def test_subset_indexing_matches_torch():
    base = list(range(100, 110))
    ours, theirs = tud.Subset(base, [9, 0, 4]), tdata.Subset(base, [9, 0, 4])
    assert len(ours) == len(theirs) == 3
    assert [ours[i] for i in range(3)] == [theirs[i] for i in range(3)] == [109, 100, 104]
    assert ours[-1] == theirs[-1]
    X, y = _arrays(10)
    ours = tud.Subset(tud.TensorDataset(X, y), [9, 0, 4])
    theirs = tdata.Subset(tdata.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), [9, 0, 4])
    assert plain(ours[[0, 2]]) == plain(theirs[[0, 2]])
    assert plain(ours.__getitems__([2, 1])) == plain(theirs.__getitems__([2, 1]))


def test_concat_dataset_indexing_matches_torch():
    parts = [list(range(3)), list(range(10, 12)), list(range(20, 24))]
    ours, theirs = tud.ConcatDataset(parts), tdata.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 9 and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    for bad in (ours, theirs):
        with pytest.raises(ValueError, match="absolute value of index"):
            bad[-10]
    with pytest.raises(IndexError):
        ours[9]
    X, y = _arrays(4)
    joined = tud.TensorDataset(X, y) + tud.TensorDataset(X[:2] + 100, y[:2] + 100)
    assert isinstance(joined, tud.ConcatDataset) and joined[5][1].item() == 101
    assert [yb.tolist() for _, yb in tud.DataLoader(joined, batch_size=4)] == \
        [[0, 1, 2, 3], [100, 101]]


# ------------------------------------------------------------------ errors

def _args(framework, ds_kind="map"):
    if ds_kind == "iterable":
        return (Counting(4),) if framework == "ours" else (TorchCounting(4),)
    ours, theirs = _both(4)
    return (ours,) if framework == "ours" else (theirs,)


LOADER_ERRORS = {
    "sampler with shuffle": ("map", lambda mod: {"sampler": [0, 1], "shuffle": True}, ValueError),
    "batch_sampler with batch_size": ("map", lambda mod: {"batch_sampler": [[0]],
                                                          "batch_size": 2}, ValueError),
    "batch_sampler with drop_last": ("map", lambda mod: {"batch_sampler": [[0]],
                                                         "drop_last": True}, ValueError),
    "batch_size=None with drop_last": ("map", lambda mod: {"batch_size": None,
                                                           "drop_last": True}, ValueError),
    "batch_size=0": ("map", lambda mod: {"batch_size": 0}, ValueError),
    "negative num_workers": ("map", lambda mod: {"num_workers": -1}, ValueError),
    "negative timeout": ("map", lambda mod: {"timeout": -1}, ValueError),
    "prefetch_factor without workers": ("map", lambda mod: {"prefetch_factor": 2}, ValueError),
    "persistent_workers without workers": ("map", lambda mod: {"persistent_workers": True},
                                           ValueError),
    "iterable with shuffle": ("iterable", lambda mod: {"shuffle": True}, ValueError),
    "iterable with sampler": ("iterable", lambda mod: {"sampler": [0]}, ValueError),
    "iterable with batch_sampler": ("iterable", lambda mod: {"batch_sampler": [[0]]},
                                    ValueError),
}


@pytest.mark.parametrize("name", LOADER_ERRORS)
def test_bad_loader_arguments_raise_torchs_error_types(name):
    kind, kwargs, error = LOADER_ERRORS[name]
    with pytest.raises(error):
        tdata.DataLoader(*_args("torch", kind), **kwargs(tdata))
    with pytest.raises(error):
        tud.DataLoader(*_args("ours", kind), **kwargs(tud))


SAMPLER_ERRORS = {
    "replacement not a bool": (lambda m: m.RandomSampler(range(3), replacement=1), TypeError),
    "num_samples 0": (lambda m: m.RandomSampler(range(3), num_samples=0), ValueError),
    "empty data set": (lambda m: m.RandomSampler([]), ValueError),
    "batch_size 0": (lambda m: m.BatchSampler(range(3), 0, False), ValueError),
    "batch_size True": (lambda m: m.BatchSampler(range(3), True, False), ValueError),
    "drop_last not a bool": (lambda m: m.BatchSampler(range(3), 2, 1), ValueError),
    "weighted num_samples 2.5": (lambda m: m.WeightedRandomSampler([1.0], 2.5), ValueError),
    "weighted replacement 1": (lambda m: m.WeightedRandomSampler([1.0], 1, 1), ValueError),
    "weights of 2 dims": (lambda m: m.WeightedRandomSampler([[1.0]], 1), ValueError),
}


@pytest.mark.parametrize("name", SAMPLER_ERRORS)
def test_bad_sampler_arguments_raise_torchs_errors(name):
    build, error = SAMPLER_ERRORS[name]
    with pytest.raises(error) as theirs:
        build(tdata)
    with pytest.raises(error) as ours:
        build(tud)
    assert str(ours.value) == str(theirs.value)


def test_our_own_argument_errors_name_the_argument():
    ours, _ = _both(4)
    with pytest.raises(TypeError, match="DataLoader: generator must be a tg.Generator"):
        tud.DataLoader(ours, shuffle=True, generator=3)
    with pytest.raises(ValueError, match="give generator= or seed=, not both"):
        tud.DataLoader(ours, seed=1, generator=tg.Generator())
    with pytest.raises(TypeError, match="DataLoader: collate_fn must be callable"):
        tud.DataLoader(ours, collate_fn="stack")
    with pytest.raises(TypeError, match=r"DataLoader: data must be \(X, y\)"):
        tud.DataLoader(3)
    with pytest.raises(ValueError, match="ConcatDataset: datasets should not be an empty"):
        tud.ConcatDataset([])
    with pytest.raises(ValueError, match="does not support IterableDataset"):
        tud.ConcatDataset([Counting(3)])


# ------------------------------------------------------------------ tg.Generator

def test_generator_seeding_follows_torchs_methods():
    assert tg.Generator().initial_seed() == torch.Generator().initial_seed()
    assert tg.Generator().manual_seed(-1).initial_seed() == \
        torch.Generator().manual_seed(-1).initial_seed()
    g = tg.Generator()
    assert g.manual_seed(7) is g and g.initial_seed() == 7
    first = g.numpy_generator.random(3)
    g.manual_seed(7)
    assert (g.numpy_generator.random(3) == first).all()
    state = g.get_state()
    after = g.numpy_generator.random(2)
    assert (g.set_state(state).numpy_generator.random(2) == after).all()
    new = g.seed()
    assert isinstance(new, int) and g.initial_seed() == new
    # A fresh Generator is deterministic in both libraries.
    assert list(tud.RandomSampler(range(9), generator=tg.Generator())) == \
        list(tud.RandomSampler(range(9), generator=tg.Generator()))
    with pytest.raises(TypeError):
        g.manual_seed(1.5)
    with pytest.raises(RuntimeError, match="runs on numpy on the CPU"):
        tg.Generator("cuda")


def test_the_loaders_generator_is_the_samplers_so_a_checkpoint_can_restore_it():
    ours, _ = _both(20)
    loader = tud.DataLoader(ours, batch_size=20, shuffle=True, seed=3)
    assert isinstance(loader.generator, tg.Generator)
    assert loader.sampler.generator is loader.generator
    state = loader.generator.get_state()
    first = next(iter(loader))[1].tolist()
    loader.generator.set_state(state)
    assert next(iter(loader))[1].tolist() == first
