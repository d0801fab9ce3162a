// EESObjectStore: under construction.
