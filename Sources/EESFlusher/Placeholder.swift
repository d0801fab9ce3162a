// EESFlusher: under construction.
