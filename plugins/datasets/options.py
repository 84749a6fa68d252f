"""Dataset options (``dataset.options`` in a run config, keyword arguments of a loader), validated
by one pydantic model per dataset.

A wrong option is one line naming the dataset, the option, what it must be and what it got
(``crag: dataset option 'tile' (tile side in pixels): Input should be greater than or equal to 1,
got 0``); an unknown option gets a did-you-mean and the list of the dataset's options. Imported
by the readers on first use (pydantic is not imported when plugins are listed).

>>> validate_options(DatasetOptions, "mydata", {"n": "5"}).n
5
>>> validate_options(DatasetOptions, "mydata", {"nn": 5})
Traceback (most recent call last):
...
pathreason.api.errors.DataError: mydata: unknown dataset option 'nn'. Did you mean 'n'? Its options: decode_images, n
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pathreason.api import DataError, did_you_mean

__all__ = ["DatasetOptions", "SynthpathOptions", "validate_options"]

M = TypeVar("M", bound=BaseModel)


class DatasetOptions(BaseModel):
    """Options every local dataset reader takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n: int | None = Field(None, ge=1, description="load only the first n samples of the split, a whole number >= 1")
    decode_images: bool = Field(False, description="decode every image while loading, true or false")


class SynthpathOptions(BaseModel):
    """Options of the embedded ``synthpath`` generator (its ``generate`` signature)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n: int | None = Field(None, ge=0, description="number of samples, a whole number >= 0; default: the split's size")
    n_train: int | None = Field(None, ge=0, description="number of samples of the train split only, a whole number "
                                ">= 0 (over n there; the other splits keep n or their size)")
    seed: int = Field(0, description="the seed of the generated split, a whole number")
    task: Literal["subtyping", "vqa", "detection"] | None = Field(
        None, description="one task, or none for the round-robin mix of all three")
    tile: int = Field(448, ge=56, description="tile side in pixels, a whole number >= 56")
    real_background: bool = Field(False, description="blend the shipped real H&E tiles into the stroma")
    progress: bool | None = Field(None, description="show a progress bar (default: for 500 samples or more)")
    vqa_option_order: Literal["shuffled", "fixed"] = Field(
        "fixed", description="VQA multiple-choice options in one order per question family, or shuffled per question")
    vqa_coarse_texture: bool = Field(False, description="coarse VQA tiles carry a random chromatin texture (default: even)")
    subtyping_normal: bool = Field(False, description="add normal stroma as a seventh, coarse subtyping class "
                                   "(for performers meant for whole slides)")
    clump_texture: Literal["checkerboard", "band", "checkerboard+band"] = Field(
        "checkerboard+band", description="the medium level's chromatin texture (subtyping, VQA): 2-pixel cells, "
        "band-limited noise of random phase (shows at every grid from 64 tokens), or both (the default)")
    gland_texture: Literal["checkerboard", "band", "checkerboard+band"] = Field(
        "checkerboard", description="the medium detection glands' texture, with the same choices")
    vqa_gland_count: Literal["one-to-four", "one-or-four"] = Field(
        "one-or-four", description="the coarse VQA gland-count tiles hold one or four large glands (options one "
        "and four) or one to four (options one to four)")
    vqa_untextured: Literal["coarse", "level"] = Field(
        "coarse", description="where a VQA chromatin question about a tile without texture sits: at the coarse "
        "level, every level asking the same questions of its own texture (the default), or at the question's "
        "own level, half its tiles untextured (the earlier data)")


def _setting(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_options(model: type[M], dataset: str, options: Mapping[str, Any]) -> M:
    """``options`` validated as ``model``; a :class:`DataError` of one line for the first bad one."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as err:
        error = err.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        fields = sorted(model.model_fields)
        if error["type"] == "extra_forbidden":
            raise DataError(f"{dataset}: unknown dataset option {name!r}.{did_you_mean(name, fields)} "
                            f"Its options: {', '.join(fields)}") from None
        field = model.model_fields.get(name)
        what = f" ({field.description})" if field is not None and field.description else ""
        message = re.sub(r"^Value error, ", "", error["msg"])
        raise DataError(f"{dataset}: dataset option {name!r}{what}: {message}, got {_setting(error['input'])}") from None
