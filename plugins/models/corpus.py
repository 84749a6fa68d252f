"""The text the embedded tiny tokenizer is trained on: every prompt template, the answer tags and a
pathology vocabulary (deterministic; part of the tiny preset's fingerprint)."""

from __future__ import annotations

from pathreason.api.prompts import ALLOCATION_PROMPT, LETTERS, SYSTEM_PROMPT
from pathreason.tasks.prompts import DETECTION_PROMPT, SUBTYPING_PROMPT

__all__ = ["PHRASES", "corpus_lines"]

_VOCABULARY = (
    "tissue gland glands lumen nuclei nucleus nuclear cell cells stroma epithelium epithelial mucosa "
    "tumor tumour carcinoma adenoma adenocarcinoma hyperplastic polyp tubular villous dysplasia "
    "high grade low grade normal benign malignant inflammation inflammatory lymphocytes necrosis "
    "mitosis mitotic chromatin speckled coarse fine dense sparse large small round elongated spindle "
    "pink purple pale dark eosinophilic basophilic colon esophagus stomach liver breast prostate "
    "lesion lesions region regions image images shows show visible there is are the a an of in with "
    "yes no what which how many does do is this present absent pattern texture structure detail "
    "because so therefore I see look looks appear appears count answer think category class option "
    "bounding box boxes x y min max token tokens number"
)

#: Phrases pathology prompts and answers use often (class names, tissue descriptions, rationales).
PHRASES = (
    "stromal spindle-cell tissue", "glandular adenoma", "low-grade dysplasia", "high-grade dysplasia",
    "glandular tissue", "stromal tissue", "dysplastic epithelium", "spindle-cell stroma",
    "glands with open lumens", "crowded epithelium", "fine and even", "coarse and speckled",
    "What type of tissue is shown", "What is the chromatin pattern of the nuclei", "How many glands are visible",
    "Are there glands in this image", "Is the chromatin coarse and speckled", "Which pattern best describes the tissue",
    "I look at the tissue to answer the question.", "I compare the tissue with each category.",
    "I scan the image for", "I examine the tissue in the image.", "normal mucosa", "adenocarcinoma",
)


def corpus_lines() -> list[str]:
    """Text the embedded tiny tokenizer is trained on (deterministic).

    The fixed templates are repeated so that byte-pair merges (which may cross word boundaries in
    the tiny tokenizer) turn each into a few tokens: the system prompt costs ~30 tokens instead of
    ~150, which keeps CPU training of the tiny model fast.
    """
    templates = [SYSTEM_PROMPT, ALLOCATION_PROMPT, SUBTYPING_PROMPT.split("{")[0],
                 DETECTION_PROMPT.split("{")[0], " in pathology ", DETECTION_PROMPT.split("}")[-1]]
    lines = [t for t in templates for _ in range(40)]
    lines += [p for p in PHRASES for _ in range(8)]
    words = _VOCABULARY.split()
    lines += [" ".join(words[i:i + 12]) for i in range(0, len(words), 3)]
    lines += [f"<think> {w} </think> <answer> {w} </answer>" for w in words]
    lines += [f"({LETTERS[i]}) {w}" for i, w in enumerate(words[:26])]
    lines += [" ".join(str(n) for n in range(k, k + 50)) for k in range(0, 1000, 50)]
    lines += ["[[12, 34, 56, 78], [90, 12, 345, 678]]", "[]", "Yes.", "No.", "yes", "no"]
    return lines * 2
