// EESCompression: under construction.
