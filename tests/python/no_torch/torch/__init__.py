"""Stand-in that makes `import torch` fail, to test flowers.py where torch is missing."""
raise ImportError("No module named 'torch' (tests/python/no_torch stand-in)")
