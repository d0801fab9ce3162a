// EESRedis: under construction.
