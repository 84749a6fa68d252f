"""Tiny copies of the six datasets in their real on-disk formats, written into a test's tmp_path.

Each builder returns the root folder and documents what it wrote, so that tests can compare
the readers' counts, labels and boxes against values computed by hand here.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def write_image(path: Path, width: int = 32, height: int = 24, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise_image(width, height, seed).save(path)
    return path


def write_garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not an image")
    return path


def encoded(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


# -- PathVQA ---------------------------------------------------------------------------------------


def pathvqa_parquet(root: Path) -> Path:
    """``data/{train,validation,test}-00000-of-00001.parquet``.

    train: 5 rows: 2 yes/no ("Yes", "no") and 2 open on two distinct images (one shared by three
    rows), and one row with corrupt image bytes (skipped). validation and test: 1 open row each.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    a, b = encoded(noise_image(20, 16, 1)), encoded(noise_image(18, 12, 2))
    rows = {
        "train": [
            (a, "a.jpg", "Is this colon?", "Yes"),
            (a, "a.jpg", "Is there necrosis?", "no"),
            (a, "a.jpg", "What is shown?", "  adenocarcinoma "),
            (b, "b.jpg", "Where are the glands?", "in the mucosa"),
            (b"\x00broken", "c.jpg", "What is this?", "nothing"),
        ],
        "validation": [(b, "b.jpg", "What organ?", "colon")],
        "test": [(a, "a.jpg", "What stain?", "h&e")],
    }
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for split, records in rows.items():
        table = pa.table(
            {
                "image": pa.array([{"bytes": r[0], "path": r[1]} for r in records], type=image_type),
                "question": [r[2] for r in records],
                "answer": [r[3] for r in records],
            }
        )
        (root / "data").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / "data" / f"{split}-00000-of-00001.parquet")
    return root


def pathvqa_pickles(root: Path) -> Path:
    """``pvqa/qas/{train,val,test}/{split}_qa.pkl`` + ``pvqa/images/{split}/*.jpg``.

    train: 4 records: "train_0001" yes, "train_0002" open, one whose image is missing, one not a
    dict (both skipped). val: 1 yes/no. test: 1 open.
    """
    base = root / "pvqa"
    records = {
        "train": [
            {"image": "train_0001", "question": "Is this malignant?", "answer": "yes"},
            {"image": "train_0002", "question": "What cells are seen?", "answer": "plasma cells"},
            {"image": "train_9999", "question": "Missing?", "answer": "no"},
            ["not", "a", "dict"],
        ],
        "val": [{"image": "val_0001", "question": "Is it benign?", "answer": "No"}],
        "test": [{"image": "test_0001", "question": "What organ?", "answer": "liver"}],
    }
    for split, items in records.items():
        (base / "qas" / split).mkdir(parents=True, exist_ok=True)
        with (base / "qas" / split / f"{split}_qa.pkl").open("wb") as handle:
            pickle.dump(items, handle)
        for item in items:
            if isinstance(item, dict) and not item["image"].endswith("9999"):
                write_image(base / "images" / split / f"{item['image']}.jpg")
    return root


# -- PathMMU ---------------------------------------------------------------------------------------


def _mmu_record(number: int, image: str, answer: str = "B) gland", options: list[str] | None = None) -> dict:
    return {
        "No": number,
        "img": image,
        "question": f"Question {number}?",
        "options": options or ["A) stroma", "B) gland", "C) fat"],
        "answer": answer,
        "explanation": f"because {number}",
    }


def pathmmu(root: Path) -> Path:
    """``data.json`` + ``images/``: PubMed test has 4 records (one malformed: options not
    lettered) of which No 2 is also in test_tiny; val has 1. Atlas: test 2 (one image missing),
    test_tiny 1, val 1. EduContent, PathCLS: one val record each, empty test and test_tiny.

    Paper protocol counts: train = PubMed {1, 3} + Atlas {11} -> 3 (malformed 4 and missing 12
    skipped); validation = 4; test = 2.
    """
    for name in ("p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg", "a1.jpg", "v.jpg"):
        write_image(root / "images" / name)
    data = {
        "PubMed": {
            "val": [_mmu_record(100, "images/v.jpg", "A) stroma")],
            "test": [
                _mmu_record(1, "images/p1.jpg"),
                _mmu_record(2, "images/p2.jpg", "C) fat"),
                _mmu_record(3, "p3.jpg", "A"),
                _mmu_record(4, "images/p4.jpg", options=["stroma", "gland"]),
            ],
            "test_tiny": [_mmu_record(2, "images/p2.jpg", "C) fat")],
        },
        "Atlas": {
            "val": [_mmu_record(200, "images/v.jpg")],
            "test": [_mmu_record(11, "images/a1.jpg", "C) fat"), _mmu_record(12, "images/missing.jpg")],
            "test_tiny": [_mmu_record(13, "images/a1.jpg", "A) stroma")],
        },
        "EduContent": {"val": [_mmu_record(300, "images/v.jpg")], "test": [], "test_tiny": []},
        "PathCLS": {"val": [_mmu_record(400, "images/v.jpg", "C) fat")], "test": [], "test_tiny": []},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.json").write_text(json.dumps(data))
    return root


# -- UniToPatho ------------------------------------------------------------------------------------

UNITOPATHO_TRAIN = [("img_a.png", "NORM"), ("img_b.png", "HP"), ("img_c.png", "TA.LG"), ("img_d", "TVA.HG")]


def unitopatho(root: Path) -> Path:
    """``800/{train,test}.csv`` + ``800/<class>/<image_id>``. train: 4 good rows (one id without
    suffix), plus a bad label, a missing image and a corrupt image (all skipped). test: 2 rows."""
    folder = root / "800"
    folder.mkdir(parents=True, exist_ok=True)
    train = [*UNITOPATHO_TRAIN, ("img_e.png", "XX"), ("img_f.png", "HP"), ("img_g.png", "NORM")]
    test = [("img_t1.png", "TA.HG"), ("img_t2.png", "TVA.LG")]
    for name, rows in (("train", train), ("test", test)):
        lines = ["image_id,top_label_name,top_label,type,grade"]
        lines += [f"{image_id},{label},0,x,y" for image_id, label in rows]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
        for image_id, label in rows:
            if label == "XX" or image_id == "img_f.png":
                continue
            target = folder / label / (image_id if image_id.endswith(".png") else f"{image_id}.png")
            if image_id == "img_g.png":
                write_garbage(target)
            else:
                write_image(target)
    return root


# -- ESCA ------------------------------------------------------------------------------------------


def esca(root: Path) -> Path:
    """Centres VALSET4_CHA_FULL (train: TUMOR x2, ADVENT x1, plus a ``._`` fork and a corrupt
    jpg), VALSET1_UKK (SH_OES x1) and VALSET2_WNS (ULCUS x1, SUB_GL x1)."""
    files = {
        "VALSET4_CHA_FULL/TUMOR": ["t1.jpg", "t2.jpg"],
        "VALSET4_CHA_FULL/ADVENT": ["a1.jpg"],
        "VALSET1_UKK/SH_OES": ["o1.jpg"],
        "VALSET2_WNS/ULCUS": ["u1.jpg"],
        "VALSET2_WNS/SUB_GL": ["g1.jpg"],
    }
    for folder, names in files.items():
        for name in names:
            write_image(root / folder / name)
    (root / "VALSET4_CHA_FULL/TUMOR/._t1.jpg").write_bytes(b"\x00\x05\x16\x07 resource fork")
    write_garbage(root / "VALSET4_CHA_FULL/ADVENT/broken.jpg")
    return root


# -- CRAG ------------------------------------------------------------------------------------------

CRAG_SIZE = (100, 80)  # width, height


def crag_labels() -> np.ndarray:
    """Label map of ``train_1``: id 1 at rows 5-15, cols 5-20; id 2 touching it at cols 21-30;
    id 7 at rows 30-49, cols 50-69 (crossing tiles); id 9 an L shape: rows 60-69 cols 10-14 and
    rows 65-69 cols 10-29."""
    labels = np.zeros((CRAG_SIZE[1], CRAG_SIZE[0]), np.uint16)
    labels[5:16, 5:21] = 1
    labels[5:16, 21:31] = 2
    labels[30:50, 50:70] = 7
    labels[60:70, 10:15] = 9
    labels[65:70, 10:30] = 9
    return labels


def crag(root: Path) -> Path:
    """``train/Images/train_1.png`` with ``train/Annotation/train_1.png`` (16-bit label map), an
    image without annotation and a corrupt image (both skipped); ``valid/Images/test_1.png``
    with ``valid/Annotation/test_1.png`` (one gland, RGB label map)."""
    write_image(root / "train/Images/train_1.png", *CRAG_SIZE)
    (root / "train/Annotation").mkdir(parents=True, exist_ok=True)
    Image.fromarray(crag_labels()).save(root / "train/Annotation/train_1.png")
    write_image(root / "train/Images/train_2.png", *CRAG_SIZE)
    write_garbage(root / "train/Images/train_3.png")
    write_garbage(root / "train/Annotation/train_3.png")
    write_image(root / "valid/Images/test_1.png", 50, 40)
    test = np.zeros((40, 50, 3), np.uint8)
    test[10:20, 10:30] = 3
    (root / "valid/Annotation").mkdir(parents=True, exist_ok=True)
    Image.fromarray(test).save(root / "valid/Annotation/test_1.png")
    return root


# -- DigestPath ------------------------------------------------------------------------------------


def digest_mask(seed: int = 0) -> np.ndarray:
    """A 0/255 mask of 128x96 with JPEG-block-aligned lesions (so JPEG keeps their edges) plus
    noise: lesion A rows 8-39, cols 16-47; lesion B rows 56-87, cols 88-119; a 2x2 speck at
    rows 70-71, cols 40-41 (dropped by min_area)."""
    mask = np.zeros((96, 128), np.float64)
    mask[8:40, 16:48] = 255
    mask[56:88, 88:120] = 255
    mask[70:72, 40:42] = 255
    mask += np.random.default_rng(seed).normal(0, 12, mask.shape)
    return np.clip(mask, 0, 255).astype(np.uint8)


def digestpath(root: Path) -> Path:
    """``tissue-train-pos-v1/case1_a.jpg`` + ``case1_a_mask.jpg`` (two lesions),
    ``tissue-train-neg/case2_b.jpg`` (negative), a corrupt ``case3_c.jpg``, and a ``._`` file."""
    pos, neg = root / "tissue-train-pos-v1", root / "tissue-train-neg"
    pos.mkdir(parents=True, exist_ok=True)
    neg.mkdir(parents=True, exist_ok=True)
    noise_image(128, 96, 3).save(pos / "case1_a.jpg", quality=90)
    Image.fromarray(digest_mask()).save(pos / "case1_a_mask.jpg", quality=75)
    noise_image(128, 96, 4).save(neg / "case2_b.jpg", quality=90)
    write_garbage(pos / "case3_c.jpg")
    (neg / "._case2_b.jpg").write_bytes(b"\x00\x05\x16\x07")
    return root


# -- hostile files ----------------------------------------------------------------------------------
# Built byte by byte here, so that the repository holds no hostile file.


def bomb_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A small PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb as far as
    any reader that trusts the header can tell): a real 8x8 PNG with its IHDR size rewritten and
    the chunk's CRC recomputed."""
    import struct
    import zlib

    data = bytearray(encoded(noise_image(8, 8), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def bomb_jpeg(path: Path, width: int = 60000, height: int = 60000) -> Path:
    """A small JPEG whose SOF0 header claims ``width`` x ``height`` pixels."""
    import struct

    data = bytearray(encoded(noise_image(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def truncated_jpeg(path: Path, width: int = 64, height: int = 48) -> Path:
    """A JPEG cut in the middle of its pixel data: its header opens, decoding it fails."""
    data = encoded(noise_image(width, height, 5), "JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    return path


def link(path: Path, target: Path) -> Path:
    """``path`` as a symlink to ``target`` (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def nested_pickle(depth: int = 100_000) -> bytes:
    """A pickle of ``depth`` nested lists, written opcode by opcode (the pickler would recurse)."""
    import pickle

    return b"\x80\x02" + pickle.EMPTY_LIST + (pickle.MARK + pickle.EMPTY_LIST) * depth + pickle.APPENDS * depth \
        + pickle.STOP


def code_pickle(marker: Path) -> bytes:
    """A pickle that, if loaded by a plain unpickler, would create ``marker`` (it calls ``open``)."""
    return f"cbuiltins\nopen\n(S'{marker}'\nS'w'\ntR.".encode()
