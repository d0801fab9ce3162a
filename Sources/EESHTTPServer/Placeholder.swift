// EESHTTPServer: under construction.
