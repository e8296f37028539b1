"""Pure image functions: format sniffing, decoding rules, perceptual hashes."""
