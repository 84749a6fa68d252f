"""Deprecated: the shared prompts are in :mod:`pathreason.api`, each task's template in
:mod:`pathreason.tasks.prompts` (this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'SYSTEM_PROMPT': 'pathreason.api.prompts',
    'ALLOCATION_PROMPT': 'pathreason.api.prompts',
    'LETTERS': 'pathreason.api.prompts',
    'format_options': 'pathreason.api.prompts',
    'allocation_prompt': 'pathreason.api.prompts',
    'VQA_PROMPT': 'pathreason.tasks.prompts',
    'SUBTYPING_PROMPT': 'pathreason.tasks.prompts',
    'DETECTION_PROMPT': 'pathreason.tasks.prompts',
    'vqa_prompt': 'pathreason.tasks.prompts',
    'subtyping_prompt': 'pathreason.tasks.prompts',
    'detection_prompt': 'pathreason.tasks.prompts',
    'corpus_lines': 'pathreason.plugins.models.corpus',
    'PHRASES': 'pathreason.plugins.models.corpus',
})
