"""Headers read over HTTP range requests, Hugging Face references and listings."""
