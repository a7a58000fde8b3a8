"""DataLoader: the course's shuffle-then-partition (shuffle=True), batch sizes, seeds, inputs."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.data import DataLoader, Dataset, TensorDataset


def _indexed_data(m, features=3):
    """X row i is filled with i and y[i] = i, so every batch shows which examples it holds."""
    X = np.repeat(np.arange(m, dtype=np.float32)[:, None], features, axis=1)
    return X, np.arange(m, dtype=np.int64)


def test_300_examples_at_batch_64_give_four_full_batches_and_one_of_44():
    X, y = _indexed_data(300)
    loader = DataLoader((X, y), batch_size=64, shuffle=True, seed=0)
    assert len(loader) == 5
    assert [len(yb) for _, yb in loader] == [64, 64, 64, 64, 44]


def test_drop_last_drops_the_short_batch_and_len_counts_batches():
    X, y = _indexed_data(300)
    loader = DataLoader((X, y), batch_size=64, drop_last=True, shuffle=True, seed=0)
    sizes = [len(yb) for _, yb in loader]
    assert len(loader) == 4 and sizes == [64] * 4
    assert len(DataLoader((X, y), batch_size=100, drop_last=True)) == 3
    assert len(DataLoader((X, y), batch_size=100)) == 3
    assert len(DataLoader((X, y), batch_size=1000)) == 1
    assert len(DataLoader((X, y), batch_size=1000, drop_last=True)) == 0


def test_an_epoch_visits_every_example_once_with_features_and_labels_kept_together():
    X, y = _indexed_data(257)
    seen = []
    for xb, yb in DataLoader((X, y), batch_size=32, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy().astype(np.float32))
        seen.append(yb.numpy())
    order = np.concatenate(seen)
    assert sorted(order.tolist()) == list(range(257))
    assert order.tolist() != list(range(257))  # it was shuffled


def test_batches_are_consecutive_slices_of_one_permutation_per_epoch():
    # The course's recipe: permutation = rng.permutation(m); batch k = examples
    # permutation[k * b:(k + 1) * b].
    X, y = _indexed_data(100)
    reference = np.random.default_rng(5)
    loader = DataLoader((X, y), batch_size=30, shuffle=True, seed=5)
    for _epoch in range(2):
        permutation = reference.permutation(100)
        batches = [yb.numpy() for _, yb in loader]
        expected = [permutation[k:k + 30] for k in range(0, 100, 30)]
        for got, want in zip(batches, expected, strict=True):
            np.testing.assert_array_equal(got, want)


def test_the_same_seed_repeats_the_same_sequence_of_epochs_and_epochs_differ():
    X, y = _indexed_data(50)
    first = DataLoader((X, y), batch_size=8, shuffle=True, seed=3)
    second = DataLoader((X, y), batch_size=8, shuffle=True, seed=3)
    epochs_a = [[yb.numpy().tolist() for _, yb in first] for _ in range(3)]
    epochs_b = [[yb.numpy().tolist() for _, yb in second] for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1]


def test_seed_none_follows_manual_seed():
    X, y = _indexed_data(40)
    loader = DataLoader((X, y), batch_size=16, shuffle=True)
    tg.manual_seed(123)
    a = [yb.numpy().tolist() for _, yb in loader]
    tg.manual_seed(123)
    b = [yb.numpy().tolist() for _, yb in loader]
    c = [yb.numpy().tolist() for _, yb in loader]
    assert a == b and a != c


def test_shuffle_false_keeps_the_data_order():
    X, y = _indexed_data(10)
    batches = [yb.numpy().tolist() for _, yb in DataLoader((X, y), batch_size=4, shuffle=False)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_batches_are_tensors_without_grad_that_keep_the_data_dtypes():
    X, y = _indexed_data(20)
    source = tg.Tensor(X, requires_grad=True)
    for xb, yb in DataLoader((source, y), batch_size=7, shuffle=True, seed=0):
        assert isinstance(xb, tg.Tensor) and isinstance(yb, tg.Tensor)
        assert not xb.requires_grad and not yb.requires_grad
        assert xb.dtype == np.float32 and yb.dtype == np.int64
        assert xb.shape[1:] == (3,)


def test_lists_a_single_array_and_more_than_two_arrays_are_accepted():
    batches = list(DataLoader(([[1.0], [2.0]], [0, 1]), batch_size=2, shuffle=False))
    assert batches[0][0].numpy().tolist() == [[1.0], [2.0]] and batches[0][1].tolist() == [0, 1]
    only_x = list(DataLoader(np.arange(5.0), batch_size=2, shuffle=False))
    assert isinstance(only_x[0], tg.Tensor) and only_x[2].tolist() == [4.0]
    X, y = _indexed_data(6)
    triples = list(DataLoader((X, y, y * 10), batch_size=3, shuffle=True, seed=0))
    for xb, yb, zb in triples:
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy())
        np.testing.assert_array_equal(zb.numpy(), yb.numpy() * 10)


def test_a_tensor_dataset_gives_the_same_batches_as_the_arrays():
    X, y = _indexed_data(45)
    from_arrays = [yb.numpy().tolist()
                   for _, yb in DataLoader((X, y), batch_size=10, shuffle=True, seed=9)]
    dataset = TensorDataset(X, y)
    from_dataset = [yb.numpy().tolist()
                    for _, yb in DataLoader(dataset, batch_size=10, shuffle=True, seed=9)]
    assert from_arrays == from_dataset
    assert len(dataset) == 45 and dataset[4][1].item() == 4
    assert dataset.tensors[0].numpy() is X  # no copy


class SquaresDataset(Dataset):
    """A user-written map-style data set: example i is (features [i, i^2], label i % 3)."""

    def __len__(self):
        return 23

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float64), i % 3


def test_a_user_dataset_is_stacked_field_by_field():
    seen = []
    for xb, yb in DataLoader(SquaresDataset(), batch_size=5, shuffle=True, seed=2):
        x = xb.numpy()
        assert xb.dtype == np.float64 and x.shape[1] == 2
        np.testing.assert_array_equal(x[:, 1], x[:, 0] ** 2)
        np.testing.assert_array_equal(yb.numpy(), x[:, 0].astype(np.int64) % 3)
        seen.extend(x[:, 0].astype(int).tolist())
    assert sorted(seen) == list(range(23))
    assert len(DataLoader(SquaresDataset(), batch_size=5)) == 5


def test_a_user_dataset_follows_the_same_permutation_as_arrays():
    X = np.array([[i, i * i] for i in range(23)], dtype=np.float64)
    y = np.arange(23) % 3
    a = [xb.numpy() for xb, _ in DataLoader((X, y), batch_size=4, shuffle=True, seed=6)]
    b = [xb.numpy() for xb, _ in DataLoader(SquaresDataset(), batch_size=4, shuffle=True, seed=6)]
    for got, want in zip(b, a, strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_transform_changes_x_batches_only():
    X, y = _indexed_data(12)
    loader = DataLoader((X, y), batch_size=5, shuffle=True, seed=0,
                        transform=lambda xb: xb + 1000.0)
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy()[:, 0], yb.numpy() + 1000.0)
    assert X.max() == 11.0  # the data set itself is untouched


def test_bad_arguments_raise_clear_errors():
    X, y = _indexed_data(10)
    with pytest.raises(ValueError, match=r"same first dimension.*\(10, 3\), \(9,\)"):
        DataLoader((X, y[:9]))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((X, y), batch_size=0)
    with pytest.raises(TypeError, match="DataLoader: data"):
        DataLoader(42)
    with pytest.raises(TypeError, match="transform"):
        DataLoader((X, y), transform="flip")
    with pytest.raises(TypeError, match="seed"):
        DataLoader((X, y), seed=1.5)


def test_a_model_trains_on_loader_batches():
    # End to end: mini-batch gradient descent with the loader lowers a logistic loss.
    from tinygrad_c2.data import make_moons

    X, y = make_moons(200, noise=0.1, seed=0)
    tg.manual_seed(0)
    model = tg.nn.Linear(2, 1)
    params = list(model.parameters())

    def loss_on(xb, yb):
        logits = model(xb).reshape(-1)
        return tg.nn.functional.binary_cross_entropy_with_logits(logits, yb.float())

    with tg.no_grad():
        before = loss_on(tg.Tensor(X), tg.Tensor(y)).item()
    for _ in range(20):
        for xb, yb in DataLoader((X, y), batch_size=32, shuffle=True, seed=1):
            for p in params:
                p.grad = None
            loss_on(xb, yb).backward()
            for p in params:
                p.data -= 0.5 * p.grad.data
    with tg.no_grad():
        after = loss_on(tg.Tensor(X), tg.Tensor(y)).item()
    assert after < 0.5 * before
