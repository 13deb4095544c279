"""Tests for the tf.data pipelines: ops eagerly and in Dataset.map, order, shuffle, shards, skips."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from mobiface_tf.data import pipeline, recordio, tfrecords
from mobiface_tf.errors import BadInputError

NUM_IDENTITIES, PER_IDENTITY = 4, 3


def _encode(pixels, image_format="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


def _face(index, size=112):
    """A PNG-exact image whose top-left pixel encodes `index` and whose halves differ (so a
    flip is visible)."""
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[:, : size // 2] = 200
    pixels[0, 0] = (index, 255 - index, 7)
    return pixels


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """(paths, labels, encoded bytes): 4 identities x 3 PNG faces; image i has id pixel i."""
    root = tmp_path_factory.mktemp("tree")
    paths, labels, encoded = [], [], []
    for index in range(NUM_IDENTITIES * PER_IDENTITY):
        folder = root / f"id{index // PER_IDENTITY}"
        folder.mkdir(exist_ok=True)
        path = folder / f"{index:02d}.png"
        data = _encode(_face(index))
        path.write_bytes(data)
        paths.append(str(path))
        labels.append(index // PER_IDENTITY)
        encoded.append(data)
    return paths, np.asarray(labels, np.int64), encoded


def _ids(images):
    """The id pixel of each image in a batch, whichever way it was flipped."""
    images = np.asarray(images)
    corner = np.where(images[:, 0, 0, 2] == 7, images[:, 0, 0, 0], images[:, 0, -1, 0])
    return corner.astype(int).tolist()


def _collect(dataset):
    ids, labels = [], []
    for images, batch_labels in dataset:
        assert images.dtype == tf.float32 and images.shape[1:] == (112, 112, 3)
        assert batch_labels.dtype == tf.int32
        ids += _ids(images)
        labels += batch_labels.numpy().tolist()
    return ids, labels


# --- ops, eagerly and inside Dataset.map -------------------------------------------------------


@pytest.mark.parametrize(
    "pixels, image_format",
    [
        (_face(3), "PNG"),
        (_face(3, size=150), "PNG"),                                    # resized
        (np.full((112, 112), 90, np.uint8), "PNG"),                      # grayscale
        (np.full((112, 112, 4), 90, np.uint8), "PNG"),                   # RGBA
        (np.full((80, 60, 3), 120, np.uint8), "JPEG"),
        (_face(3), "TIFF"),     # not a TensorFlow format: decoded through Pillow
        (_face(3), "GIF"),
        (_face(3, size=150), "WEBP"),
    ],
)
def test_decode_face_eager_matches_dataset_map(pixels, image_format):
    data = _encode(pixels, image_format)
    eager = pipeline.decode_face(tf.constant(data)).numpy()
    mapped = next(iter(tf.data.Dataset.from_tensors(data).map(pipeline.decode_face))).numpy()
    assert eager.shape == (112, 112, 3) and eager.dtype == np.float32
    np.testing.assert_array_equal(eager, mapped)
    if pixels.shape[:2] == (112, 112) and image_format in ("PNG", "TIFF"):
        expected = pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)
        np.testing.assert_array_equal(eager, expected[..., :3].astype(np.float32))
    else:
        assert 0 <= eager.min() and eager.max() <= 255


def test_random_flip_eager_matches_dataset_map_and_flips():
    image = tf.constant(_face(5), tf.float32)
    decisions = []
    for seed in range(20):
        seed_tensor = tf.constant([seed, 0], tf.int64)
        eager = pipeline.random_flip(image, seed_tensor).numpy()
        mapped = next(iter(
            tf.data.Dataset.from_tensors((image, seed_tensor)).map(pipeline.random_flip)
        )).numpy()
        np.testing.assert_array_equal(eager, mapped)
        flipped = np.array_equal(eager, image.numpy()[:, ::-1])
        assert flipped or np.array_equal(eager, image.numpy())
        decisions.append(flipped)
    assert 0 < sum(decisions) < 20


def test_as_label():
    assert pipeline.as_label(tf.constant(7, tf.int64)).dtype == tf.int32
    mapped = next(iter(tf.data.Dataset.from_tensors(tf.constant(7, tf.int64)).map(pipeline.as_label)))
    assert int(mapped) == 7


# --- build_dataset -----------------------------------------------------------------------------


def test_evaluation_order_batches_and_remainder(tree):
    paths, labels, _ = tree
    dataset = pipeline.build_dataset(paths, labels, 5, training=False, deterministic=True)
    ids, got = _collect(dataset)
    assert ids == list(range(12)) and got == labels.tolist()
    assert [int(batch[1].shape[0]) for batch in dataset] == [5, 5, 2]
    assert dataset.skip_counter.skipped() == 0 and dataset.skip_counter.attempted() == 24
    dropped = pipeline.build_dataset(paths, labels, 5, training=False, drop_remainder=True)
    assert [int(batch[1].shape[0]) for batch in dropped] == [5, 5]


def test_training_shuffles_flips_and_is_reproducible(tree):
    paths, labels, _ = tree

    def run(seed):
        dataset = pipeline.build_dataset(paths, labels, 4, training=True, seed=seed, deterministic=True)
        epochs = []
        for _ in range(2):
            images = np.concatenate([batch[0].numpy() for batch in dataset])
            epochs.append((images, _ids(images)))
        return epochs

    first, again, other = run(1), run(1), run(2)
    for (images_a, ids_a), (images_b, ids_b) in zip(first, again):
        np.testing.assert_array_equal(images_a, images_b)
        assert ids_a == ids_b
    (images_1, ids_1), (_, ids_2) = first
    assert sorted(ids_1) == list(range(12))  # 12 = 3 full batches: nothing dropped
    assert ids_1 != list(range(12)) and ids_1 != ids_2  # shuffled, and reshuffled per epoch
    assert ids_1 != other[0][1]
    flipped = images_1[:, 1, 0, 0] == 0  # the bright half moved to the right
    assert 0 < flipped.sum() < len(flipped)
    # Labels still match their images after shuffling.
    dataset = pipeline.build_dataset(paths, labels, 4, training=True, seed=3)
    for images, batch_labels in dataset:
        assert [index // PER_IDENTITY for index in _ids(images)] == batch_labels.numpy().tolist()


def test_every_pass_of_a_training_shard_reads_each_of_its_samples_once(tree):
    paths, labels, _ = tree
    dataset = pipeline.build_dataset(paths, labels, 1, training=True, seed=0, num_shards=2, shard_index=1).repeat(3)
    ids = _collect(dataset)[0]
    passes = [ids[i : i + 6] for i in range(0, 18, 6)]
    assert all(sorted(one) == list(range(1, 12, 2)) for one in passes)
    assert len({tuple(one) for one in passes}) > 1  # a fresh order each pass


def test_sharding_splits_without_overlap(tree):
    paths, labels, _ = tree
    shards = [
        _collect(pipeline.build_dataset(paths, labels, 2, training=True, seed=0, drop_remainder=False,
                                        num_shards=3, shard_index=index))[0]
        for index in range(3)
    ]
    assert sorted(sum(shards, [])) == list(range(12))
    assert all(len(shard) == 4 for shard in shards)
    with pytest.raises(BadInputError, match="shard_index"):
        pipeline.build_dataset(paths, labels, 2, training=False, num_shards=2, shard_index=2)


def test_input_context_sets_shard_and_per_replica_batch(tree):
    paths, labels, _ = tree
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    dataset = pipeline.build_dataset(paths, labels, 4, training=False, deterministic=True,
                                     input_context=context)
    ids, _ = _collect(dataset)
    assert ids == list(range(1, 12, 2))
    assert [int(batch[1].shape[0]) for batch in dataset] == [2, 2, 2]
    with pytest.raises(BadInputError, match="not both"):
        pipeline.build_dataset(paths, labels, 4, training=False, input_context=context, num_shards=2)


def test_distribute_datasets_from_function(tree):
    paths, labels, _ = tree
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    counter = pipeline.SkipCounter()
    broken = paths[:5] + ["/nonexistent/face.png"] + paths[5:]
    broken_labels = np.concatenate([labels[:5], [0], labels[5:]])

    def dataset_fn(context):
        return pipeline.build_dataset(broken, broken_labels, 4, training=True, seed=0,
                                      input_context=context, skip_counter=counter)

    with strategy.scope():
        distributed = strategy.distribute_datasets_from_function(dataset_fn)
    seen = sum(int(strategy.experimental_local_results(labels_)[0].shape[0]) for _, labels_ in distributed)
    assert seen == 12 and counter.skipped() == 1


def test_corrupt_and_missing_files_are_skipped_and_counted(tree, tmp_path):
    paths, labels, encoded = tree
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(encoded[0][: len(encoded[0]) // 2])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    bad = [str(truncated), str(garbage), str(tmp_path / "missing.jpg")]
    dataset = pipeline.build_dataset(paths[:4] + bad + paths[4:], np.concatenate([labels[:4], [0, 0, 0], labels[4:]]),
                                     4, training=False, deterministic=True)
    ids, _ = _collect(dataset)
    assert ids == list(range(12))
    assert dataset.skip_counter.skipped() == 3 and dataset.skip_counter.attempted() == 15


def test_build_dataset_checks_arguments(tree):
    paths, labels, _ = tree
    with pytest.raises(BadInputError, match="one label per path"):
        pipeline.build_dataset(paths, labels[:-1], 4, training=False)
    with pytest.raises(BadInputError, match="batch_size"):
        pipeline.build_dataset(paths, labels, 0, training=False)
    with pytest.raises(BadInputError, match="integers"):
        pipeline.build_dataset(paths, labels.astype(float), 4, training=False)


# --- dataset_from_records ----------------------------------------------------------------------


def test_rec_dataset_matches_tree_and_skips_corrupt_record(tree, tmp_path):
    paths, labels, encoded = tree
    samples = list(zip(encoded, labels))
    samples.insert(6, (b"\xff\xd8\xff corrupt", 2))  # lands among label 2's records
    rec = tmp_path / "faces.rec"
    recordio.write_insightface_rec(rec, samples)
    dataset = pipeline.dataset_from_records(rec, 5, training=False, deterministic=True)
    ids, got = _collect(dataset)
    assert ids == list(range(12)) and got == labels.tolist()
    assert dataset.skip_counter.skipped() == 1
    trained = pipeline.dataset_from_records(rec, 4, training=True, seed=0, num_shards=2, shard_index=0,
                                            drop_remainder=False)
    shard_ids, shard_labels = _collect(trained)
    assert [index // PER_IDENTITY for index in shard_ids] == shard_labels
    assert 5 <= len(shard_ids) <= 7


def test_rec_dataset_skips_record_with_broken_framing(tree, tmp_path):
    _, labels, encoded = tree
    rec = tmp_path / "faces.rec"
    recordio.write_insightface_rec(rec, zip(encoded, labels))
    with recordio.RecordIOReader(rec) as reader:
        offset = reader.offset(3)
    data = bytearray(rec.read_bytes())
    data[offset : offset + 4] = b"XXXX"  # record 3's magic
    rec.write_bytes(bytes(data))
    dataset = pipeline.dataset_from_records(rec, 4, training=False, deterministic=True)
    ids, _ = _collect(dataset)
    assert ids == [0, 1] + list(range(3, 12)) and dataset.skip_counter.skipped() == 1


def test_tfrecord_dataset_shards_files_and_records(tree, tmp_path):
    _, labels, encoded = tree
    files = []
    for shard in range(3):
        path = tmp_path / f"faces-{shard}.tfrecord"
        tfrecords.write_tfrecord(path, [(encoded[i], labels[i]) for i in range(shard, 12, 3)])
        files.append(path)
    ids, got = _collect(pipeline.dataset_from_records(tmp_path, 4, training=False, deterministic=True))
    assert sorted(ids) == list(range(12))
    assert [index // PER_IDENTITY for index in ids] == got
    for num_shards in (2, 4):  # fewer files than shards: records are split instead
        per_shard = [
            _collect(pipeline.dataset_from_records([str(path) for path in files], 3, training=True, seed=1,
                                                   num_shards=num_shards, shard_index=index,
                                                   drop_remainder=False))[0]
            for index in range(num_shards)
        ]
        assert sorted(sum(per_shard, [])) == list(range(12))
