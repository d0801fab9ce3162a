// EESIngest: under construction.
