"""Bridges to other libraries: weights to and from Hugging Face ``transformers`` (:mod:`.hf`)."""
