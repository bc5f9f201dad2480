"""Datasets: loading, validation, splits, sequences and transitions.

* ``interactions`` — the one interaction schema (user, item, time, value, event), its
  validation, k-core, behaviour labels, contiguous ids, and ``read_csv`` for your own logs;
* ``movielens``, ``lastfm``, ``amazon`` — the built-in datasets read into that schema
  (MovieLens ml-latest-small, HetRec Last.fm-2k, the Amazon Books slice for full mode);
* ``prepare`` — raw events to a split, encoded dataset with evaluation events
  (``prepare`` for a built-in dataset, ``prepare_events`` for any schema frame);
* ``sequences`` — per-user sequences, splits, padded evaluation histories;
* ``transitions`` — sequences as RL transitions; ``replay`` — a replay buffer over them;
  ``negatives`` — negative item sampling;
* ``genre_words`` — which genres a free text names (and which are false for an item);
* ``synthetic`` — a tiny deterministic log with known ground truth, for tests and exercises;
* ``files`` — reading tables with errors that name file, column and line; atomic writes;
* ``checksums``, ``download`` — SHA-256 of the official files; the download command.

Spec: spec-book-data, spec-datasets.
Taught in: sec-interaction-logs, sec-splits-and-leakage, sec-transitions
"""
