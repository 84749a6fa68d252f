"""The canonical Sample: validation, lazy images, and the lossless round trip through datasets."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathreason import DataError, Sample  # noqa: E402
from pathreason.api.sample import ImageRef, dataset_to_samples, samples_to_dataset  # noqa: E402


def png(path, width=30, height=20, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": ""}, "sample id must be a non-empty string"),
        ({"task": ""}, "field 'task' must be a non-empty string"),
        ({"image": 42}, "field 'image' must be a path, a PIL image or an ImageRef"),
        ({"options": "A, B"}, "field 'options' must be a list of strings"),
        ({"options": ["x", "y"], "answer": "C"}, r"answer 'C' is neither an option letter \(A-B\) nor one of its options"),
        ({"task": "subtyping", "options": ["a", "b"], "answer": "c"}, r"nor one of its options \['a', 'b'\]"),
        ({"boxes": [[1, 2, 3]]}, r"item 0 must be 4 finite numbers"),
        ({"boxes": [[0, 0, 5, 5], [5, 5, 4, 9]]}, r"item 1 \[5.0, 5.0, 4.0, 9.0\] must have 0 <= x1 < x2"),
        ({"boxes": [[-1, 0, 5, 5]]}, "must have 0 <= x1"),
        ({"boxes": [[0, 0, float("nan"), 5]]}, "finite"),
        ({"meta": {"when": {1, 2}}}, "must hold JSON values"),
        ({"meta": {1: "x"}}, "keys must be strings"),
        ({"question": None}, "field 'question' must be a string"),
    ],
)
def test_validation_names_the_field_and_the_sample(fields, message):
    base = {"id": "s-1", "image": "x.png", "task": "vqa"}
    with pytest.raises(DataError, match=message) as err:
        Sample(**{**base, **fields})
    if fields.get("id", "s-1"):
        assert "'s-1'" in str(err.value)


def test_normalisation():
    sample = Sample(id="s", image=os.path.join("a", "b.png"), task=" VQA ", boxes=[(1, 2, 3, 4)], meta={"t": (1, 2)})
    assert sample.task == "vqa" and sample.boxes == [[1.0, 2.0, 3.0, 4.0]] and sample.meta == {"t": [1, 2]}
    assert sample.image == "a/b.png"


def test_images_are_lazy_and_errors_name_sample_and_path(tmp_path):
    path = png(tmp_path / "a.png", 30, 20)
    sample = Sample(id="s-path", image=path, task="vqa")
    assert sample.image == str(path) and sample.size == (30, 20)
    assert sample.load_image().mode == "RGB" and sample.load_image().size == (30, 20)

    rgba = Image.new("RGBA", (5, 4), (10, 20, 30, 255))
    assert Sample(id="s-pil", image=rgba, task="vqa").load_image().getpixel((0, 0)) == (10, 20, 30)

    region = Sample(id="s-region", image=ImageRef(path=str(path), region=(5, 2, 25, 12)), task="detection")
    assert region.size == (20, 10)
    assert np.array_equal(np.asarray(region.load_image()), np.asarray(Image.open(path))[2:12, 5:25])

    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(path.read_bytes()[:60])  # header intact, pixels gone
    broken = Sample(id="s-broken", image=truncated, task="vqa")
    assert broken.size == (30, 20)  # only the header is read
    with pytest.raises(DataError, match=r"sample 's-broken': cannot read image .*truncated.png"):
        broken.load_image()
    with pytest.raises(DataError, match=r"sample 's-missing': cannot read image .*nowhere.png"):
        Sample(id="s-missing", image=tmp_path / "nowhere.png", task="vqa").size  # noqa: B018
    outside = Sample(id="s-out", image=ImageRef(path=str(path), region=(0, 0, 99, 5)), task="vqa")
    with pytest.raises(DataError, match=r"'s-out'.*region \[0, 0, 99, 5\].*outside the 30x20 image"):
        outside.load_image()


def test_to_dict_from_dict():
    sample = Sample(id="s", image="x.png", task="vqa", question="q?", options=["a", "b"], answer="B", meta={"k": 1})
    assert Sample.from_dict(sample.to_dict()) == sample
    with pytest.raises(DataError, match=r"unknown fields \['label'\]"):
        Sample.from_dict({**sample.to_dict(), "label": 1})


def mixed_samples(tmp_path):
    path = png(tmp_path / "slide.png", 64, 48, seed=1)
    encoded = tmp_path / "enc.jpg"
    Image.open(png(tmp_path / "src.png", 16, 16, seed=2)).save(encoded, quality=90)
    return [
        Sample(
            id="vqa-mc",
            image=str(path),
            task="vqa",
            question="Which?",
            options=["stroma", "gland", "fat"],
            answer="B",
            meta={"dataset": "d1", "question_type": "multiple choice", "difficulty": "coarse"},
        ),
        Sample(id="vqa-yn", image=Image.open(path).convert("RGB"), task="vqa", question="Gland?", answer="yes"),
        Sample(
            id="sub",
            image=ImageRef(path="enc.jpg", data=encoded.read_bytes()),
            task="subtyping",
            options=["a", "b"],
            answer="b",
            meta={"nested": {"list": [1, 2.5, None], "flag": True}},
        ),
        Sample(
            id="det",
            image=ImageRef(path=str(path), region=(8, 4, 40, 36)),
            task="detection",
            boxes=[[1.5, 2.25, 10.0, 12.0], [0, 0, 32, 32]],
            meta={"dataset": "d2", "tile": [8, 4, 40, 36]},
        ),
        Sample(id="det-empty", image=str(path), task="detection", meta={}),
    ]


def test_round_trip_through_datasets_is_lossless(tmp_path):
    samples = mixed_samples(tmp_path)
    dataset = samples_to_dataset(samples)
    assert dataset.num_rows == 5 and dataset.features["image"].__class__.__name__ == "Image"
    assert dataset[1]["image"].size == (64, 48)  # decoded on access
    assert dataset[3]["image"].size == (32, 32)  # the region, cut
    back = dataset_to_samples(dataset)
    for before, after in zip(samples, back):
        assert after.to_dict() | {"image": None} == before.to_dict() | {"image": None}
        assert np.array_equal(np.asarray(after.load_image()), np.asarray(before.load_image()))
    assert back[0].image == samples[0].image  # a path stays a path
    assert back[3].image == samples[3].image  # a region stays a region of its file
    assert isinstance(back[1].image, ImageRef) and back[1].image.data  # in-memory pixels as PNG bytes
    assert back[2].image.data == samples[2].image.data  # encoded bytes kept as they were


def test_dataset_without_sample_columns_is_rejected():
    from datasets import Dataset

    with pytest.raises(DataError, match=r"lacks the sample columns \['id', 'image'"):
        dataset_to_samples(Dataset.from_dict({"question": ["q"]}))


def test_unlabelled_sample_with_options_is_a_prediction_request() -> None:
    from PIL import Image

    from pathreason.api import DataError
    from pathreason.api.sample import Sample

    image = Image.new("RGB", (56, 56))
    Sample(id="q", image=image, task="subtyping", options=["benign", "malignant"])  # no answer yet: fine
    Sample(id="q", image=image, task="vqa", question="Which?", options=["yes", "no"])
    with pytest.raises(DataError, match="nor one of its options"):
        Sample(id="q", image=image, task="subtyping", options=["benign", "malignant"], answer="tumour")


def test_each_task_checks_its_own_answer_convention() -> None:
    from PIL import Image

    from pathreason import get_task
    from pathreason.api import DataError

    image = Image.new("RGB", (56, 56))
    mc = Sample(id="mc", image=image, task="vqa", options=["x", "y"], answer="x")  # a name: valid as a Sample
    with pytest.raises(DataError, match=r"sample 'mc': answer 'x' is not an option letter \(A-B\)"):
        get_task("vqa").validate(mc)
    get_task("vqa").validate(Sample(id="ok", image=image, task="vqa", options=["x", "y"], answer="B"))
    letter = Sample(id="sub", image=image, task="subtyping", options=["a", "b"], answer="B")
    with pytest.raises(DataError, match=r"answer 'B' is not one of its options \['a', 'b'\]"):
        get_task("subtyping").validate(letter)


# -- decompression bombs (issue 17 item 12) --------------------------------------------------------


@pytest.fixture
def pillow_limit(monkeypatch):
    """Pillow's pixel limit restored after the test (a raised PATHREASON_MAX_IMAGE_PIXELS raises it)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    monkeypatch.delenv("PATHREASON_MAX_IMAGE_PIXELS", raising=False)
    return monkeypatch


def test_a_bomb_is_a_data_error_naming_the_sample_and_the_file(tmp_path, pillow_limit):
    from tests.plugins import _data_fixtures as fx

    png, jpeg = fx.bomb_png(tmp_path / "bomb.png"), fx.bomb_jpeg(tmp_path / "bomb.jpg")
    for sample, pixels in [(Sample(id="s-png", image=png, task="vqa"), "900,000,000"),
                           (Sample(id="s-jpg", image=ImageRef(path=str(jpeg)), task="vqa"), "3,600,000,000"),
                           (Sample(id="s-bytes", image=ImageRef(path="x.png", data=png.read_bytes()), task="vqa"),
                            "900,000,000")]:
        for read in (sample.load_image, lambda s=sample: s.size):
            with pytest.raises(DataError) as caught:
                read()
            message = str(caught.value)
            assert message.startswith(f"sample {sample.id!r}: cannot read image {sample.image_path}: an image of "
                                      f"{pixels} pixels is over the limit of 89,478,485 (a decompression bomb?); "
                                      f"for genuine large images set PATHREASON_MAX_IMAGE_PIXELS higher"), message


def test_the_pixel_limit_is_an_environment_variable(tmp_path, pillow_limit):
    from pathreason.api.sample import max_image_pixels
    from tests.plugins import _data_fixtures as fx

    bomb = Sample(id="big", image=fx.bomb_png(tmp_path / "big.png"), task="vqa")
    pillow_limit.setenv("PATHREASON_MAX_IMAGE_PIXELS", "1_000_000_000")
    assert max_image_pixels() == 10**9 and bomb.size == (30000, 30000)  # a genuine large image: header read
    small = Sample(id="small", image=png(tmp_path / "small.png", 40, 30), task="vqa")
    pillow_limit.setenv("PATHREASON_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(DataError, match=r"^sample 'small': .*an image of 40x30 = 1,200 pixels is over the limit of 1,000"):
        small.load_image()
    pillow_limit.setenv("PATHREASON_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(DataError, match=r"^PATHREASON_MAX_IMAGE_PIXELS must be a positive whole number of pixels"):
        max_image_pixels()
