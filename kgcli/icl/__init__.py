"""In-context extraction with API LLMs through litellm: seed-style prompts for one text (``prompts``),
whole converted test sets (``batch``), the litellm client with retries and JSON mode (``client``) and the
reply cache (``cache``)."""
