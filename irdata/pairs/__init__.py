"""Public pairs folders (rainy / clean, noisy / clean, ...) as paired shards: `find`
matches the known layouts, `write` writes shards and manifests (`irdata pairs`)."""
