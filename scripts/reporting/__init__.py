"""The investor report: fetch `fundingReport` as an investor, draw it, write HTML and PDF.

Presentation only: every number comes from the GraphQL API (`client`), every definition
from the README glossary (`glossary`); `charts` draws, `html` and `pdf` lay out.
"""
