"""Earnings and billing rules, pure: money and its rounding, rate cards, priced statement
lines and their revenue shares, adjustments, lead invoice lines, months, documents and their
content hash. No I/O: the store reads and writes them, the panel shows them (docs/billing.md).
"""
