"""Pure patch functions: the centred 512x512 grid and the flat-region detector."""
