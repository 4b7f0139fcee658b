"""Probabilistic customer-base models (pure numpy/scipy, no database).

- `histories`: the per-member inputs (frequency, recency, age in weeks, mean spend);
- `bgnbd`: the BG/NBD purchase model (P(alive), expected transactions);
- `gamma_gamma`: the Gamma-Gamma spend model and predictive lifetime value.
"""
