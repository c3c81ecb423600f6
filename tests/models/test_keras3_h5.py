"""An .h5 saved by Keras 3 loads with Keras 3 (tf_keras cannot read its configs) and converts."""
from __future__ import annotations

import numpy as np


def test_keras3_h5_converts_in_float_and_int8(tmp_path, digits):
    from mobilekit._compat import keras3
    from mobilekit.conversion import convert
    from mobilekit.models.keras import check_model_path
    from mobilekit.models.tflite import open_interpreter, read_tflite, run_over_samples

    k3 = keras3()
    k3.utils.set_random_seed(0)
    model = k3.Sequential([k3.layers.Input((8, 8, 1)), k3.layers.Flatten(),
                           k3.layers.Dense(16, activation="relu"), k3.layers.Dense(10)])
    model.save(tmp_path / "k3.h5")
    assert check_model_path(tmp_path / "k3.h5")[1] == "keras3"
    x = digits[2][:16]
    np.savez(tmp_path / "cal.npz", x=digits[0][:32])
    for mode, tolerance in (("none", 1e-5), ("int8", 0.1)):
        output = tmp_path / f"k3_{mode}.tflite"
        result = convert(tmp_path / "k3.h5", output, quantize=mode,
                         calibration=tmp_path / "cal.npz" if mode == "int8" else None)
        assert result.source_model_kind == "keras3"
        got, _ = run_over_samples(open_interpreter(read_tflite(output)), x, progress=False)
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=tolerance)


def test_tf_keras_h5_still_loads_with_tf_keras(tmp_path):
    from mobilekit._compat import keras
    from mobilekit.models.keras import check_model_path

    k = keras()
    k.Sequential([k.layers.Input((4,)), k.layers.Dense(2)]).save(tmp_path / "k2.h5")
    assert check_model_path(tmp_path / "k2.h5")[1] == "tf_keras"


def test_custom_layer_hint_only_when_the_config_has_custom_layers(tmp_path):
    import zipfile

    import pytest

    from mobilekit._compat import keras3
    from mobilekit.errors import ModelError
    from mobilekit.models.keras import custom_layer_names, load_model

    k3 = keras3()

    class Doubler(k3.layers.Layer):  # defined here, never registered: unknown when loading
        def call(self, inputs):
            return inputs * 2.0

    custom = k3.Sequential([k3.layers.Input((4,)), Doubler(), k3.layers.Dense(2)])
    for suffix in (".h5", ".keras"):
        path = tmp_path / f"custom{suffix}"
        custom.save(path)
        assert custom_layer_names(path) == ["Doubler"]
        with pytest.raises(ModelError) as caught:
            load_model(path)
        assert "custom layers (Doubler) must be importable" in caught.value.hint

    plain = k3.Sequential([k3.layers.Input((4,)), k3.layers.Dense(2)])
    plain.save(tmp_path / "plain.keras")
    assert custom_layer_names(tmp_path / "plain.keras") == []
    broken = tmp_path / "broken.keras"  # builtin layers only, weights missing: loading fails
    with zipfile.ZipFile(tmp_path / "plain.keras") as source, zipfile.ZipFile(broken, "w") as target:
        for name in source.namelist():
            if not name.endswith(".h5"):
                target.writestr(name, source.read(name))
    with pytest.raises(ModelError) as caught:
        load_model(broken)
    assert "custom layers" not in caught.value.hint
