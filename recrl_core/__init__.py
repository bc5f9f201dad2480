"""recrl_core: the tested library behind the book *LLM-enhanced RL for recommender systems*.

Importing the package is cheap on purpose: it loads no torch, transformers or
matplotlib, sets no global state and seeds nothing. Import submodules explicitly,
e.g. ``from recrl_core.eval import metrics``.
"""

__version__ = "0.1.0"
