"""Tests for mobiface_tf.models: builders, registry, Table 1 structure, flip head, serialization."""

import functools
import hashlib
import json

import keras
import numpy as np
import pytest

from mobiface_tf.models import blocks, contract, flipped, mobiface, registry
from mobiface_tf.models.flipped import FlippedMobiFace, backbone_model, flip_outputs_model
from mobiface_tf.models.mobiface import MobiFace

TINY = (32, 32, 3)

# (registry name, head (None: the builder's default), params at 112x112, embedding size). Counts include BN moving statistics
# and per-channel PReLU alphas; see FACTS.md for how they were first measured.
PINNED = [
    ("mobiface", None, 2_597_120, 512),
    ("mobiface", "gap", 2_569_984, 512),
    ("mobiface", "fc", 15_152_896, 512),
    ("flipped_mobiface", None, 3_122_432, 512),
    ("mobilefacenet", None, 1_022_720, 128),
    ("mobilenet_v1", None, 28_931_968, 512),
    ("mobilenet_v1", "gdc", 3_820_416, 512),
]

# sha256 of each model's [layer names, [weight path, shape]...] (JSON) as built before the block-spec
# refactor: the same layers in the same order keep every earlier `.keras` file and checkpoint loadable.
PINNED_LAYOUTS = [
    ("mobiface", {}, "478ada3539c957e9"),
    ("mobiface", {"activation": "relu"}, "0d264ea48b8a0357"),
    ("mobiface", {"head": "gap"}, "5cfb3079da4a2a03"),
    ("mobiface", {"head": "fc"}, "b0eeb294f70a3bbd"),
    ("flipped_mobiface", {}, "b2736031febe9fc6"),
    ("mobilefacenet", {}, "edc5e3922a6c0fdd"),
    ("mobilenet_v1", {}, "0a1790f64dc1a63e"),
    ("mobilenet_v1", {"head": "gdc"}, "5dbc7e8fe6218a2b"),
]

# Table 1's "Input" column, read as the output size of each bottleneck, block1..block14.
MOBIFACE_BLOCK_SIZES = [28, 28, 28, 14, 14, 14, 14, 7, 7, 7, 7, 7, 7, 7]
MOBIFACE_RBLOCKS = {2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14}


@functools.lru_cache(maxsize=None)
def full_size(name, head=None, activation="prelu"):
    """One 112x112 model per configuration for the whole module (building them is the slow part)."""
    kwargs = {"activation": activation}
    if head is not None:
        kwargs["head"] = head
    return registry.build_model(name, **kwargs)


def tiny(name, **kwargs):
    """A 32x32 model with an 8-d embedding and non-trivial BN statistics, for fast numeric tests."""
    model = registry.build_model(name, input_shape=TINY, embedding_size=8, **kwargs)
    randomize_weights(model, seed=0)
    return model


def randomize_weights(model, seed):
    """Random weights everywhere; BN variances positive, so outputs are O(1), not ~1e-7."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        values = rng.normal(0.0, 0.2, size=weight.shape).astype("float32")
        if "moving_variance" in weight.path:
            values = np.abs(values) + 0.5
        weight.assign(values)


def infer(model, x):
    """Eager inference: no tf.function tracing, which costs seconds per model on this CPU."""
    outputs = model(x, training=False)
    return [o.numpy() for o in outputs] if isinstance(outputs, (list, tuple)) else outputs.numpy()


def faces(n=2, shape=TINY, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, size=(n, *shape)).astype("float32")


@pytest.mark.parametrize("name, head, params, dim", PINNED)
def test_param_counts_pinned_at_112(name, head, params, dim):
    model = full_size(name, head)
    assert model.count_params() == params
    assert tuple(model.input.shape) == (None, 112, 112, 3)
    assert tuple(model.output.shape) == (None, dim)


@pytest.mark.parametrize("name, kwargs, digest", PINNED_LAYOUTS)
def test_layer_and_weight_layout_pinned(name, kwargs, digest):
    model = full_size(name, kwargs.get("head"), kwargs.get("activation", "prelu"))
    layout = [[layer.name for layer in model.layers], [[w.path, list(w.shape)] for w in model.weights]]
    assert hashlib.sha256(json.dumps(layout).encode()).hexdigest()[:16] == digest


def test_flip_head_adds_two_dense_512_layers():
    assert full_size("flipped_mobiface").count_params() - full_size("mobiface").count_params() == 2 * (512 * 512 + 512)


def test_relu_variant_only_drops_prelu_alphas():
    relu = full_size("mobiface", activation="relu")
    prelu = full_size("mobiface")
    alphas = sum(int(np.prod(layer.alpha.shape)) for layer in prelu.layers if isinstance(layer, keras.layers.PReLU))
    assert not any(isinstance(layer, keras.layers.PReLU) for layer in relu.layers)
    assert relu.count_params() == prelu.count_params() - alphas


def test_every_registered_model_is_pinned():
    assert {name for name, *_ in PINNED} == set(registry.list_models())


@pytest.mark.parametrize("name", registry.list_models())
@pytest.mark.parametrize("head", blocks.HEADS)
def test_tiny_models_give_one_embedding_per_face(name, head):
    model = tiny(name, head=head)
    embeddings = infer(model, faces(3))
    assert embeddings.shape == (3, 8)
    assert np.all(np.isfinite(embeddings))
    assert blocks.head_of(model) == head


@pytest.mark.parametrize("name", registry.list_models())
def test_normalization_is_one_layer_inside_the_model(name):
    model = full_size(name)
    rescalings = [layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling)]
    assert [layer.name for layer in rescalings] == ["normalize"]
    normalized = keras.Model(model.input, model.get_layer("normalize").output)
    pixels = np.zeros((1, 112, 112, 3), "float32")
    pixels[0, 0, :3, 0] = [0.0, 127.5, 255.0]
    np.testing.assert_allclose(normalized(pixels)[0, 0, :3, 0], [-127.5 / 128, 0.0, 127.5 / 128], rtol=1e-6)


@pytest.mark.parametrize("name", registry.list_models())
def test_embedding_layer_contract(name):
    model = full_size(name)
    embedding = model.get_layer("embedding")
    assert isinstance(embedding, keras.layers.BatchNormalization)
    if name == "flipped_mobiface":
        assert model.layers[-1].name == flipped.FLIPPED_EMBEDDING_LAYER
    else:
        assert model.layers[-1] is embedding


@pytest.mark.parametrize("name", registry.list_models())
def test_layer_conventions(name):
    model = full_size(name)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            assert (layer.momentum, layer.epsilon) == (0.9, 2e-5), layer.name
        if isinstance(layer, keras.layers.PReLU):
            # Per-channel alpha (shared over H and W), not one per element.
            assert layer.alpha.shape[:2] == (1, 1), layer.name
        is_flip_head = layer.name in ("flip_hidden", flipped.FLIP_PREDICTION_LAYER)
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and not is_flip_head:
            assert not layer.use_bias, f"{layer.name}: BN follows, a bias is redundant"


def test_mobiface_spatial_sizes_follow_table_1():
    model = full_size("mobiface")
    assert model.get_layer("conv1").output.shape[1:] == (56, 56, 64)
    assert model.get_layer("conv2_dw_act").output.shape[1:] == (56, 56, 64)
    sizes = [model.get_layer(f"block{n}_project_bn").output.shape[1] for n in range(1, 15)]
    assert sizes == MOBIFACE_BLOCK_SIZES
    assert model.get_layer("block14_project_bn").output.shape[1:] == (7, 7, 256)
    assert model.get_layer("conv_last_act").output.shape[1:] == (7, 7, 512)
    assert not any(layer.name.startswith("block15") for layer in model.layers)


def test_rblocks_have_the_shortcut_and_blocks_do_not():
    model = full_size("mobiface")
    names = {layer.name for layer in model.layers}
    for n in range(1, 15):
        assert (f"block{n}_add" in names) == (n in MOBIFACE_RBLOCKS), f"block{n}"
    for n in MOBIFACE_RBLOCKS:
        add = model.get_layer(f"block{n}_add")
        previous = model.get_layer(f"block{n - 1}_add" if n - 1 in MOBIFACE_RBLOCKS else f"block{n - 1}_project_bn")
        # The shortcut carries the block's own input, the previous block's output.
        assert add.input[0] is previous.output
        assert add.input[1] is model.get_layer(f"block{n}_project_bn").output
    assert sum(isinstance(layer, keras.layers.Add) for layer in model.layers) == len(MOBIFACE_RBLOCKS)


def test_spec_table_matches_table_1():
    residual = [row.residual for row in mobiface.MOBIFACE_BLOCKS if row.block == "bottleneck" for _ in range(row.repeats)]
    assert {n for n, shortcut in enumerate(residual, start=1) if shortcut} == MOBIFACE_RBLOCKS


@pytest.mark.parametrize("name", registry.list_models())
def test_models_record_their_builder_arguments_in_the_keras_file(name, tmp_path):
    model = tiny(name, head="gap", activation="relu")
    args = contract.model_args(model)
    base = args["backbone"] if name == "flipped_mobiface" else args
    assert args["model"] == name
    assert base == {"model": base["model"], "input_shape": [32, 32, 3], "embedding_size": 8, "head": "gap",
                    "activation": "relu"}
    json.dumps(args)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, contract.FaceModel) and contract.model_args(loaded) == args
    if name != "flipped_mobiface":
        kwargs = {key: value for key, value in args.items() if key != "model"}
        rebuilt = registry.build_model(name, **{**kwargs, "input_shape": tuple(kwargs["input_shape"])})
        assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize("name", registry.list_models())
def test_model_args_of_a_plain_functional_model_are_read_from_its_layers(name):
    # What a `.keras` file saved before models recorded their arguments loads as.
    model = tiny(name, head="gdc")
    plain = keras.Model(model.inputs[0], model.outputs[0], name=model.name)
    recorded, read = contract.model_args(model), contract.model_args(plain)
    if name == "flipped_mobiface":
        assert read == {**recorded, "backbone": {**recorded["backbone"], "model": None}}
    else:
        assert read == recorded


@pytest.mark.parametrize(
    "spec, match",
    [
        (dict(block="inverted"), "block='inverted'"),
        (dict(block="conv"), "filters=None"),
        (dict(block="conv", filters=8, name="stem", repeats=2), "repeats=2"),
        (dict(block="bottleneck", filters=8), "exactly one of"),
        (dict(block="bottleneck", filters=8, expand_ratio=2, expand_filters=16), "exactly one of"),
        (dict(block="separable", filters=8, expand_ratio=2), "exactly one of"),
    ],
)
def test_block_specs_are_checked_when_written(spec, match):
    with pytest.raises(ValueError, match=match):
        blocks.BlockSpec(**spec)


def test_stack_numbers_unnamed_blocks_across_the_table():
    specs = (blocks.BlockSpec("conv", 8, strides=2, name="stem"), blocks.BlockSpec("separable", 8, repeats=2),
             blocks.BlockSpec("bottleneck", 8, expand_ratio=2), blocks.BlockSpec("bottleneck", 16, expand_ratio=2))
    x = keras.Input((16, 16, 3))
    model = keras.Model(x, blocks.stack(x, specs, "relu"))
    names = {layer.name for layer in model.layers}
    assert {"stem", "block1_dw", "block1_pw", "block2_dw", "block2_pw", "block3_expand", "block3_add",
            "block4_project"} <= names
    assert "block4_add" not in names  # 8 -> 16 channels: no shortcut fits


@pytest.mark.parametrize("name", registry.list_models())
def test_keras_file_round_trip_gives_identical_outputs(name, tmp_path):
    model = tiny(name)
    x = faces()
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(infer(loaded, x), infer(model, x))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize("name", registry.list_models())
def test_config_round_trip_gives_identical_outputs(name):
    model = tiny(name)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = faces()
    np.testing.assert_array_equal(infer(clone, x), infer(model, x))


def test_flipped_output_is_the_average_of_f_and_g():
    model = tiny("flipped_mobiface")
    x = faces()
    f_i, g = infer(flip_outputs_model(model), x)
    np.testing.assert_allclose(infer(model, x), (f_i + g) / 2, rtol=1e-6, atol=1e-6)
    assert np.any(g < 0), "the last flip layer is linear, so predictions can be negative"
    np.testing.assert_array_equal(infer(backbone_model(model), x), f_i)


def test_flipped_on_a_trained_backbone_reuses_its_weights(tmp_path):
    backbone = tiny("mobiface")
    model = FlippedMobiFace(backbone=backbone)
    x = faces()
    f_i, _ = infer(flip_outputs_model(model), x)
    np.testing.assert_array_equal(f_i, infer(backbone, x))
    assert model.get_layer("conv1") is backbone.get_layer("conv1")
    # It also works on a backbone loaded from disk, and the result saves and loads.
    backbone.save(tmp_path / "backbone.keras")
    rebuilt = FlippedMobiFace(backbone=keras.saving.load_model(tmp_path / "backbone.keras"))
    rebuilt.save(tmp_path / "flipped.keras")
    loaded = keras.saving.load_model(tmp_path / "flipped.keras")
    f_loaded, _ = infer(flip_outputs_model(loaded), x)
    np.testing.assert_array_equal(f_loaded, f_i)


def test_residual_flip_predictor_starts_as_the_identity_and_trains_only_g(tmp_path):
    backbone = MobiFace(input_shape=TINY, embedding_size=24)
    model = FlippedMobiFace(backbone=backbone, flip_hidden_units=16, flip_residual=True)
    x = np.random.default_rng(0).uniform(0, 255, (2, *TINY)).astype("float32")
    f_i, g = infer(flip_outputs_model(model), x)
    np.testing.assert_allclose(g, f_i, atol=1e-6)  # h = 0 at the start: g(f) = f, the output is f_I
    np.testing.assert_allclose(infer(model, x), f_i, atol=1e-6)
    g = flipped.flip_predictor(model)
    np.testing.assert_allclose(infer(g, f_i), f_i, atol=1e-6)
    trained = {v.path for v in g.trainable_variables}
    assert trained == {"flip_hidden/kernel", "flip_hidden/bias", "flip_residual/kernel", "flip_residual/bias"}
    assert model.builder_args["flip_residual"] is True
    model.save(tmp_path / "residual.keras")
    loaded = keras.saving.load_model(tmp_path / "residual.keras")
    assert contract.model_args(loaded)["flip_residual"] is True
    np.testing.assert_allclose(infer(loaded, x), infer(model, x), atol=1e-6)
    plain = FlippedMobiFace(backbone=MobiFace(input_shape=TINY, embedding_size=24), flip_hidden_units=16)
    g_plain = flipped.flip_predictor(plain)
    assert {v.path for v in g_plain.trainable_variables} == {
        "flip_hidden/kernel", "flip_hidden/bias", "flip_prediction/kernel", "flip_prediction/bias"}
    f_plain, g_expected = infer(flip_outputs_model(plain), x)
    np.testing.assert_allclose(infer(g_plain, f_plain), g_expected, rtol=1e-5, atol=1e-5)


def test_flipped_keeps_the_backbone_embedding_size():
    model = FlippedMobiFace(input_shape=TINY, embedding_size=24)
    assert tuple(model.output.shape) == (None, 24)
    assert model.get_layer(flipped.FLIP_PREDICTION_LAYER).units == 24


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: MobiFace(input_shape=(112, 112)), r"input_shape=\(112, 112\)"),
        (lambda: MobiFace(input_shape=(112, 112, 1)), r"input_shape=\(112, 112, 1\)"),
        (lambda: MobiFace(input_shape=(8, 8, 3)), r"input_shape=\(8, 8, 3\)"),
        (lambda: MobiFace(input_shape=(None, None, 3)), r"input_shape=\(None, None, 3\)"),
        (lambda: MobiFace(embedding_size=0), "embedding_size=0"),
        (lambda: MobiFace(embedding_size=12.5), "embedding_size=12.5"),
        (lambda: MobiFace(head="avg"), "head='avg'"),
        (lambda: MobiFace(activation="swish"), "activation='swish'"),
        (lambda: registry.build_model("mobilenet_v1", head="GDC"), "head='GDC'"),
        (lambda: registry.build_model("mobilefacenet", activation=None), "activation=None"),
        (lambda: registry.build_model("resnet50"), "resnet50.*mobiface, flipped_mobiface, mobilefacenet, mobilenet_v1"),
        (lambda: FlippedMobiFace(flip_hidden_units=0), "flip_hidden_units=0"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_flipped_refuses_ambiguous_or_wrong_backbones():
    backbone = MobiFace(input_shape=TINY, embedding_size=8)
    with pytest.raises(ValueError, match="either `backbone` or MobiFace arguments"):
        FlippedMobiFace(backbone=backbone, head="gap")
    flipped_model = FlippedMobiFace(backbone=backbone)
    with pytest.raises(ValueError, match="already has a flip predictor"):
        FlippedMobiFace(backbone=flipped_model)
    with pytest.raises(ValueError, match="not a Flipped-MobiFace"):
        flip_outputs_model(backbone)
    no_embedding = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="logits")])
    with pytest.raises(ValueError, match="no layer named 'embedding'"):
        FlippedMobiFace(backbone=no_embedding)


def test_bottleneck_refuses_a_shortcut_it_cannot_add():
    x = keras.Input((8, 8, 16))
    with pytest.raises(ValueError, match="strides=2"):
        blocks.bottleneck(x, 32, 16, 2, residual=True, activation="prelu", name="b")
    with pytest.raises(ValueError, match="filters=24"):
        blocks.bottleneck(x, 32, 24, 1, residual=True, activation="prelu", name="b")
