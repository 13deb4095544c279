"""FaceEmbedder: inputs of every kind, aligned crops, verification, thresholds, real MTCNN on LFW."""

import json

import numpy as np
import pytest
from PIL import Image

from mobiface_tf import inference
from mobiface_tf.errors import BadInputError, ImageReadError, ModelLoadError, MultipleFacesError, NoFaceError
from mobiface_tf.inference import FaceEmbedder

from helpers import TINY_EMBEDDING_SIZE as EMBEDDING_SIZE
from helpers import write_tiny_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="module")
def embedder(tiny_model):
    return FaceEmbedder(tiny_model)


def _crops(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 112, 112, 3), dtype=np.uint8)


def _lfw(lfw_dir, name, number=1):
    return lfw_dir / "images" / name / f"{name}_{number:04d}.jpg"


def test_embed_aligned_crops_gives_unit_rows_and_image_index(embedder):
    result = embedder.embed(_crops(3), aligned=True)
    assert result.embeddings.shape == (3, EMBEDDING_SIZE)
    assert result.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.embeddings, axis=1), 1.0, rtol=1e-5)
    assert result.faces == [None, None, None]
    assert result.image_index.tolist() == [0, 1, 2]
    assert set(result.timing) == {"load", "detect", "align", "embed"}
    assert result.timing["detect"] == 0.0


def test_every_input_kind_gives_the_same_embedding(embedder, tmp_path):
    crop = _crops(1, seed=1)[0]
    path = tmp_path / "crop.png"  # lossless, so every route sees the same pixels
    Image.fromarray(crop).save(path)
    inputs = [crop, str(path), path, path.read_bytes(), Image.fromarray(crop)]
    embeddings = embedder.embed(inputs, aligned=True).embeddings
    for row in embeddings[1:]:
        np.testing.assert_allclose(row, embeddings[0], atol=1e-6)


def test_verify_same_crop_is_verified_and_different_crops_score_lower(embedder):
    a, b = _crops(2, seed=2)
    same = embedder.verify(a, a, threshold=0.5, aligned=True)
    assert same.verified and same.similarity == pytest.approx(1.0, abs=1e-5)
    assert same.threshold == 0.5 and same.far is None
    different = embedder.verify(a, b, threshold=0.9999, aligned=True)
    assert different.similarity < same.similarity
    assert not different.verified
    record = same.to_dict()
    json.dumps(record)
    assert record["verified"] is True and record["faces_a"] == [None]


def test_verify_without_any_threshold_says_how_to_give_one(embedder):
    crop = _crops(1)[0]
    with pytest.raises(BadInputError, match="threshold"):
        embedder.verify(crop, crop, aligned=True)


def test_threshold_and_far_come_from_the_model_metadata(tiny_model):
    from mobiface_tf.embedding import load_embedding_model

    model = load_embedding_model(tiny_model)
    model.metadata["threshold"] = {"cosine": 0.42, "far": 1e-3, "source": "LFW 10-fold"}
    embedder = FaceEmbedder(model)
    assert embedder.threshold == (0.42, 1e-3, "LFW 10-fold")
    crop = _crops(1)[0]
    result = embedder.verify(crop, crop, aligned=True)
    assert result.threshold == 0.42 and result.far == 1e-3 and result.verified
    overridden = FaceEmbedder(model, threshold=0.99)
    assert overridden.threshold == (0.99, None, "set by the caller")


def test_aligned_input_of_the_wrong_size_is_refused(embedder):
    with pytest.raises(BadInputError, match="112x112"):
        embedder.embed(np.zeros((100, 100, 3), np.uint8), aligned=True)


def test_corrupt_bytes_raise_image_read_error(embedder):
    with pytest.raises(ImageReadError):
        embedder.embed(b"not an image at all")


def test_missing_bundled_model_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setattr(inference, "BUNDLED_MODEL", tmp_path / "absent.tflite")
    with pytest.raises(ModelLoadError, match="make bundle") as caught:
        FaceEmbedder()
    assert caught.value.exit_code == 6
    assert "\n" not in str(caught.value)


def test_bad_arguments_are_refused_with_the_value(tiny_model):
    with pytest.raises(BadInputError, match="'biggest'"):
        FaceEmbedder(tiny_model, face_policy="biggest")
    with pytest.raises(BadInputError, match="0"):
        FaceEmbedder(tiny_model, num_threads=0)
    with pytest.raises(ModelLoadError, match="no such"):
        FaceEmbedder(tiny_model.parent / "nothing.keras")


def test_model_identity_hashes_the_file(tiny_model, tmp_path):
    first = FaceEmbedder(tiny_model).model_identity()
    other = FaceEmbedder(write_tiny_model(tmp_path / "tiny.keras", seed=1)).model_identity()
    assert first["name"] == other["name"] == "tiny"
    assert first["embedding_size"] == EMBEDDING_SIZE
    assert first["hash"] and first["hash"] != other["hash"]


# -- real photos, real MTCNN -------------------------------------------------------------------
@pytest.mark.data
def test_same_lfw_photo_twice_is_verified_with_a_face_box(embedder, lfw_dir):
    photo = _lfw(lfw_dir, "Aaron_Eckhart")
    result = embedder.verify(photo, photo, threshold=0.5)
    assert result.verified
    assert result.similarity == pytest.approx(1.0, abs=1e-5)
    (face,) = result.faces_a
    x, y, w, h = face.box
    # LFW's 150x150 copies are loose crops centred on the face.
    assert 30 < w < 120 and 30 < h < 130 and abs(x + w / 2 - 75) < 25 and abs(y + h / 2 - 75) < 30
    assert result.timing["detect"] > 0 and result.timing["align"] > 0 and result.timing["embed"] > 0


@pytest.mark.data
def test_blank_image_has_no_face(embedder):
    with pytest.raises(NoFaceError, match="no face"):
        embedder.embed(np.full((160, 160, 3), 127, np.uint8))


@pytest.mark.data
def test_face_policies_on_a_photo_with_two_faces(tiny_model, embedder, lfw_dir, tmp_path):
    canvas = Image.new("RGB", (300, 150))
    canvas.paste(Image.open(_lfw(lfw_dir, "Aaron_Eckhart")), (0, 0))
    canvas.paste(Image.open(_lfw(lfw_dir, "AJ_Cook")), (150, 0))
    path = tmp_path / "two.png"
    canvas.save(path)
    with pytest.raises(MultipleFacesError, match="two.png"):
        FaceEmbedder(tiny_model, face_policy="single", detector=embedder.detector).embed(path)
    both = FaceEmbedder(tiny_model, face_policy="all", detector=embedder.detector).embed(path)
    assert len(both) == 2 and both.image_index.tolist() == [0, 0]
    centres = sorted(float(f.box[0] + f.box[2] / 2) for f in both.faces)
    assert centres[0] < 150 < centres[1]
    assert len(embedder.embed(path)) == 1  # "largest"


@pytest.mark.data
def test_exif_rotated_photo_is_read_upright(embedder, lfw_dir, tmp_path):
    upright = Image.open(_lfw(lfw_dir, "Aaron_Eckhart")).convert("RGB")
    # Stored sideways (turned 90 degrees counter-clockwise) with the tag telling viewers to
    # turn it back, as a phone held in portrait writes it.
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    upright.rotate(90, expand=True).save(path, quality=100, exif=exif)
    stored = np.asarray(Image.open(path).convert("RGB"), np.float32)
    assert np.abs(stored - np.asarray(upright, np.float32)).mean() > 20  # really sideways on disk
    (face_upright,) = embedder.embed(upright).faces
    result = embedder.verify(upright, path, threshold=0.9)
    np.testing.assert_allclose(result.faces_b[0].box, face_upright.box, atol=3.0)
    assert result.verified and result.similarity > 0.97


@pytest.mark.data
def test_embed_files_skips_and_reports_bad_files(embedder, lfw_dir, tmp_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 120, 3), 200, np.uint8)).save(blank)
    paths = [_lfw(lfw_dir, "Aaron_Eckhart"), corrupt, blank, _lfw(lfw_dir, "AJ_Cook")]
    calls = []
    result, skipped = embedder.embed_files(paths, progress=lambda done, total: calls.append((done, total)))
    assert result.image_index.tolist() == [0, 3]
    assert [(p, type(e)) for p, e in skipped] == [(corrupt, ImageReadError), (blank, NoFaceError)]
    assert calls[-1] == (4, 4)


@pytest.mark.slow
@pytest.mark.data
def test_registry_mobiface_through_the_embedder(embedder, lfw_dir):
    from mobiface_tf.embedding import EmbeddingModel
    from mobiface_tf.models.registry import build_model

    model = EmbeddingModel.from_keras(build_model("mobiface", embedding_size=64))
    mobiface = FaceEmbedder(model, detector=embedder.detector)
    photo = _lfw(lfw_dir, "AJ_Cook")
    result = mobiface.verify(photo, photo.read_bytes(), threshold=0.5)
    assert mobiface.embedding_size == 64
    assert result.verified and result.similarity == pytest.approx(1.0, abs=1e-4)


@pytest.mark.filterwarnings("ignore:TensorFlow already started")
def test_tflite_model_brings_its_threshold_and_matches_keras(tiny_model, embedder, tmp_path):
    import keras
    import tensorflow as tf

    from mobiface_tf.embedding import default_metadata

    converter = tf.lite.TFLiteConverter.from_keras_model(keras.saving.load_model(tiny_model))
    path = tmp_path / "tiny.tflite"
    path.write_bytes(converter.convert())
    metadata = default_metadata("tiny", EMBEDDING_SIZE)
    metadata["threshold"] = {"cosine": 0.6, "far": 1e-3, "source": "test"}
    (tmp_path / "tiny.tflite.json").write_text(json.dumps(metadata))

    lite = FaceEmbedder(path, num_threads=1)
    assert lite.threshold == (0.6, 1e-3, "test")
    crops = _crops(3, seed=5)
    np.testing.assert_allclose(
        lite.embed(crops, aligned=True).embeddings, embedder.embed(crops, aligned=True).embeddings, atol=1e-4
    )
    result = lite.verify(crops[0], crops[0], aligned=True)
    assert result.verified and result.far == 1e-3
