"""The document wing: whole documents read, chunked in the model's tokens, predicted, merged per document
with every span grounded to its characters, and scored against annotated documents."""
