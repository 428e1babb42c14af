"""The repository root (for child processes that import the tests' helpers)."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
