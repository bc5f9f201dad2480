"""Sequential encoders (GRU4Rec, Caser, SASRec) and the heads that turn a state into item scores.

Every encoder has one interface, ``forward(items (B, T), lengths (B,)) -> state (B, H)``
and an attribute ``hidden_size``; histories are right-padded with the pad id ``N``.
Modules: ``embedding`` (item embedding, padding helpers), ``gru4rec``, ``caser``,
``sasrec`` (the encoders) and ``heads`` (``EncoderConfig``, ``build_encoder``,
``TwoHead`` — a supervised head and a Q head on one encoder — and ``make_net``).

Taught in: sec-gru4rec-caser, sec-sasrec
"""
