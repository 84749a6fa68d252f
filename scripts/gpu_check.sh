#!/usr/bin/env bash
# The GPU check (scripts/gpu_check.py) with a 5-minute limit; arguments pass through, e.g.
#   scripts/gpu_check.sh --qwen /models/Qwen2.5-VL-3B-Instruct
# Exits 0 without doing anything on a machine without CUDA (unless --allow-cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
exec timeout 300 "${PYTHON:-python}" scripts/gpu_check.py "$@"
