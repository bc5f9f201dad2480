"""One package per seed paper, built on the toolkits below it.

``shielded`` (Shielded RecRL, Ch. 7), ``lea`` (LEA, Ch. 8) and ``ialp`` (iALP /
A-iALP, Ch. 9) are written; ``laac`` (LAAC) is where the next method goes.
A method may import any toolkit (``train``, ``rl``, ``llm``, ``envs``, ``eval``,
``seqrec``, ``data``, ``caching``, ``config``) but never another method: what two
methods share moves down into a toolkit. Each method's specification — equations,
defaults and the provenance of each — is a page of the book's appendix (spec-shielded,
spec-lea, spec-ialp, spec-laac).
"""
