"""Deprecated: the completion helpers are in :mod:`pathreason.api` (this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'MAX_TOKEN_COUNT': 'pathreason.api.completions',
    'Completion': 'pathreason.api.completions',
    'completion_text': 'pathreason.api.completions',
    'extract_answer': 'pathreason.api.completions',
    'parse_boxes': 'pathreason.api.completions',
    'parse_boxes_array': 'pathreason.api.completions',
    'parse_token_count': 'pathreason.api.completions',
})
