// EESProcessor: under construction.
