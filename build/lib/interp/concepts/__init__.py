"""Concepts as a researcher writes them and as a tokenizer sees them: concept files and user sets
(`files`, `user_sets`), the readable text of tokens (`token_text`), and spans mapped to token
indices for any tokenizer (`alignment`).

May import: `interp.core`. No torch: a concept file is read and checked without any model.
"""
