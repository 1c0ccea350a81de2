"""llama.cpp runs exact mode adds to the CPU dry run (`estimate.llama_dry_run`): its RPC backend
as a GPU stand-in (`rpc`) and mtmd's warm-up for a projector (`projector`)."""
