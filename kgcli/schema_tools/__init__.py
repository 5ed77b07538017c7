"""Schemas from documents and schemas checked: ``kgc schema suggest`` (a starting schema proposed by a model
over a sample of the corpus, aggregated deterministically) and ``kgc schema check`` (what is wrong with a
schema file, and how much of a gold set it covers)."""
