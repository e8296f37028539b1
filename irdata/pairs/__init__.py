"""Public pairs folders (rainy / clean, noisy / clean, ...) as paired shards:
`find.py` matches the files of the known layouts, `write.py` writes them as paired
shards with their manifests (`irdata pairs`). A build-side writer, beside the stages,
not part of training."""
