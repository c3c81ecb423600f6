"""Every data source load_samples / load_labelled read, and each bad input as a DataError."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from mobilekit.data import load_labelled, load_samples
from mobilekit.errors import DataError, UsageError

SHAPE = (None, 8, 8, 1)


def _write_images(folder, count, size=(12, 10), mode="L", value=None, suffix=".png"):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    for index in range(count):
        pixels = (rng.integers(0, 256, size=size[::-1]) if value is None
                  else np.full(size[::-1], value)).astype(np.uint8)
        image = Image.fromarray(pixels, mode="L").convert(mode)
        image.save(folder / f"img_{index:02d}{suffix}")


# ------------------------------------------------------------------------------------ sources

def test_npz_x_and_single_array_npz_and_npy(tmp_path, digits):
    x = digits[2][:20]
    np.savez(tmp_path / "xy.npz", x=x, y=np.arange(20))
    np.savez(tmp_path / "single.npz", calib=x)
    np.save(tmp_path / "x.npy", x)
    for name in ("xy.npz", "single.npz", "x.npy"):
        samples = load_samples(tmp_path / name, input_shape=SHAPE)
        assert samples.dtype == np.float32 and samples.shape == (20, 8, 8, 1)
        np.testing.assert_array_equal(samples, x)
    assert len(load_samples(tmp_path / "x.npy", input_shape=SHAPE, limit=5)) == 5


def test_arrays_from_python(digits):
    x, y = digits[2][:12], digits[3][:12]
    assert load_samples(x, input_shape=SHAPE, limit=5).shape == (5, 8, 8, 1)
    got_x, got_y = load_labelled((x, y), input_shape=SHAPE)
    np.testing.assert_array_equal(got_y, y)
    with pytest.raises(DataError, match="11 labels for 12 samples"):
        load_labelled((x, y[:11]))


def test_integer_arrays_become_float32(tmp_path):
    np.save(tmp_path / "u8.npy", np.full((3, 8, 8, 1), 200, np.uint8))
    samples = load_samples(tmp_path / "u8.npy", input_shape=(1, 8, 8, 1))
    assert samples.dtype == np.float32 and samples.max() == 200.0  # used as stored, not rescaled


def test_labelled_npz_accepts_one_hot(tmp_path, digits):
    x, y = digits[2][:30], digits[3][:30]
    np.savez(tmp_path / "onehot.npz", x=x, y=np.eye(10)[y])
    got_x, got_y = load_labelled(tmp_path / "onehot.npz", input_shape=SHAPE)
    np.testing.assert_array_equal(got_y, y)
    assert got_x.shape == (30, 8, 8, 1)


def test_image_folder_is_resized_grey_and_normalized(tmp_path):
    _write_images(tmp_path / "imgs", 3, size=(16, 16), value=255)
    samples = load_samples(tmp_path / "imgs", input_shape=SHAPE)
    assert samples.shape == (3, 8, 8, 1)
    np.testing.assert_allclose(samples, 1.0)  # default normalize 0-1
    minus_one = load_samples(tmp_path / "imgs", input_shape=SHAPE, normalize="-1-1")
    np.testing.assert_allclose(minus_one, 1.0)
    raw = load_samples(tmp_path / "imgs", input_shape=SHAPE, normalize="none")
    np.testing.assert_allclose(raw, 255.0)


def test_image_folder_rgb_imagenet(tmp_path):
    _write_images(tmp_path / "rgb", 2, size=(5, 7), mode="RGB", value=0, suffix=".jpg")
    samples = load_samples(tmp_path / "rgb", input_shape=(1, 4, 6, 3), normalize="imagenet")
    assert samples.shape == (2, 4, 6, 3)
    np.testing.assert_allclose(samples[0, 0, 0], -np.array([0.485, 0.456, 0.406]) /
                               np.array([0.229, 0.224, 0.225]), rtol=1e-5)


def test_labelled_image_folder_classes_in_sorted_order(tmp_path):
    _write_images(tmp_path / "ds" / "cat", 2)
    _write_images(tmp_path / "ds" / "ant", 3)
    (tmp_path / "ds" / ".DS_Store").write_bytes(b"\0\0")  # hidden files are skipped
    x, y = load_labelled(tmp_path / "ds", input_shape=SHAPE)
    assert x.shape == (5, 8, 8, 1)
    assert y.tolist() == [0, 0, 0, 1, 1]


def test_module_function_and_file_function(tmp_path, monkeypatch):
    (tmp_path / "my_calib.py").write_text(textwrap.dedent("""
        import numpy as np
        def samples():
            rng = np.random.default_rng(0)
            for _ in range(4):
                yield rng.random((8, 8, 1), dtype=np.float32)       # single samples
        def batches():
            return [np.ones((3, 8, 8, 1), np.float32), np.zeros((3, 8, 8, 1))]
        def pairs():
            return iter([(np.ones((2, 8, 8, 1)), np.array([1, 2]))])  # (x, y): x is used
        def endless():
            while True:
                yield np.ones((8, 8, 1))
    """))
    monkeypatch.chdir(tmp_path)  # module:function resolves from the working directory
    assert load_samples("my_calib:samples", input_shape=SHAPE).shape == (4, 8, 8, 1)
    assert load_samples(f"{tmp_path / 'my_calib.py'}:batches", input_shape=SHAPE).shape == (6, 8, 8, 1)
    assert load_samples("my_calib:pairs", input_shape=SHAPE).shape == (2, 8, 8, 1)
    assert load_samples("my_calib.py:endless", input_shape=SHAPE, limit=7).shape == (7, 8, 8, 1)


def test_tf_data_dataset_source(tmp_path):
    (tmp_path / "tfdata_loader.py").write_text(textwrap.dedent("""
        import numpy as np
        from mobilekit._compat import tf
        def dataset():
            x = np.arange(5 * 64, dtype=np.float32).reshape(5, 8, 8, 1)
            return tf().data.Dataset.from_tensor_slices((x, np.arange(5))).batch(2)
    """))
    samples = load_samples(f"{tmp_path / 'tfdata_loader.py'}:dataset", input_shape=SHAPE)
    assert samples.shape == (5, 8, 8, 1) and samples[4, 7, 7, 0] == 5 * 64 - 1


# ------------------------------------------------------------------------------------ bad input

def _error(callable_, *args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        callable_(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_shape_mismatch_names_both_shapes(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((4, 28, 28, 1), np.float32))
    message = _error(load_samples, tmp_path / "bad.npy", input_shape=SHAPE)
    assert "(28, 28, 1)" in message and "(8, 8, 1)" in message


def test_nan_and_inf_are_refused(tmp_path):
    x = np.zeros((5, 8, 8, 1), np.float32)
    x[3, 1, 1, 0] = np.nan
    x[4, 0, 0, 0] = np.inf
    np.savez(tmp_path / "nan.npz", x=x)
    message = _error(load_samples, tmp_path / "nan.npz", input_shape=SHAPE)
    assert "1 NaN" in message and "1 infinite" in message and "sample 3" in message


def test_non_numeric_dtype_is_refused(tmp_path):
    np.save(tmp_path / "text.npy", np.array([["a"] * 64] * 2).reshape(2, 8, 8, 1))
    assert "cannot be converted" in _error(load_samples, tmp_path / "text.npy", input_shape=SHAPE)


def test_pickled_object_arrays_are_never_loaded(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert "objects.npy" in _error(load_samples, tmp_path / "objects.npy", input_shape=SHAPE)


def test_empty_dataset(tmp_path):
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 8, 8, 1), np.float32))
    assert "empty" in _error(load_samples, tmp_path / "empty.npz", input_shape=SHAPE)
    (tmp_path / "no_images").mkdir()
    assert "empty" in _error(load_samples, tmp_path / "no_images", input_shape=SHAPE)


def test_labels_missing_or_wrong_count(tmp_path):
    x = np.zeros((6, 8, 8, 1), np.float32)
    np.savez(tmp_path / "nolabels.npz", x=x)
    assert "labels missing" in _error(load_labelled, tmp_path / "nolabels.npz")
    np.savez(tmp_path / "short.npz", x=x, y=np.arange(5))
    assert "5 labels for 6 samples" in _error(load_labelled, tmp_path / "short.npz")
    np.save(tmp_path / "x.npy", x)
    assert "labels missing" in _error(load_labelled, tmp_path / "x.npy")
    _write_images(tmp_path / "flat", 2)
    assert "no class subfolders" in _error(load_labelled, tmp_path / "flat", input_shape=SHAPE)


def test_non_image_file_in_image_folder_is_named(tmp_path):
    _write_images(tmp_path / "ds" / "a", 2)
    (tmp_path / "ds" / "a" / "notes.txt").write_text("not a picture")
    message = _error(load_labelled, tmp_path / "ds", input_shape=SHAPE)
    assert "notes.txt" in message and "not an image" in message
    (tmp_path / "ds" / "a" / "notes.txt").unlink()
    (tmp_path / "ds" / "a" / "broken.png").write_bytes(b"garbage, not a PNG")
    assert "broken.png" in _error(load_samples, tmp_path / "ds", input_shape=SHAPE)


def test_function_that_raises_is_named_with_its_exception(tmp_path, monkeypatch):
    (tmp_path / "bad_loader.py").write_text(textwrap.dedent("""
        def boom():
            raise RuntimeError("bucket not mounted")
        def late():
            yield __import__("numpy").zeros((8, 8, 1))
            raise KeyError("shard 2")
        def wrong():
            return 42
    """))
    monkeypatch.chdir(tmp_path)
    message = _error(load_samples, "bad_loader:boom", input_shape=SHAPE)
    assert "bad_loader:boom" in message and "RuntimeError" in message and "bucket not mounted" in message
    assert "KeyError" in _error(load_samples, "bad_loader:late", input_shape=SHAPE)
    assert "expected an iterable" in _error(load_samples, "bad_loader:wrong", input_shape=SHAPE)
    assert "no function" in _error(load_samples, "bad_loader:missing", input_shape=SHAPE)
    assert "cannot import module" in _error(load_samples, "no_such_module_xyz:f", input_shape=SHAPE)


def test_missing_and_unsupported_sources(tmp_path):
    assert "not found" in _error(load_samples, tmp_path / "nope.npz", input_shape=SHAPE)
    (tmp_path / "data.csv").write_text("1,2,3")
    assert "unsupported data file" in _error(load_samples, tmp_path / "data.csv", input_shape=SHAPE)
    (tmp_path / "corrupt.npz").write_bytes(b"PK not really a zip")
    assert "corrupt.npz" in _error(load_samples, tmp_path / "corrupt.npz", input_shape=SHAPE)


def test_normalize_is_refused_for_arrays(tmp_path):
    # A bad combination of options: a usage error (exit 2 on the command line), not bad data.
    np.save(tmp_path / "x.npy", np.zeros((2, 8, 8, 1), np.float32))
    with pytest.raises(UsageError, match="image folders"):
        load_samples(tmp_path / "x.npy", input_shape=SHAPE, normalize="imagenet")
    np.savez(tmp_path / "xy.npz", x=np.zeros((2, 8, 8, 1), np.float32), y=np.zeros(2))
    with pytest.raises(UsageError, match="image folders"):
        load_labelled(tmp_path / "xy.npz", input_shape=SHAPE, normalize="0-1")
