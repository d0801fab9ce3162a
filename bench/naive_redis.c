// Ceiling (a) of scripts/bench: drives the NAIVE ingest script (bench/naive_ingest.lua: dedup of
// raw 36-char ids, INCRBY, one XADD per event) directly over hiredis, with no HTTP and no JSON
// parsing, so the figure is what Redis itself allows that design on this machine.
//
//   naive_redis PORT SCRIPT.lua PROCS DEPTH BATCH SECONDS STREAMS TAG
//
// PROCS forked processes, one connection each, DEPTH batches pipelined per round trip; each batch
// goes to a random one of STREAMS streams. Event ids are unique per (TAG, process, counter), so
// nothing is a duplicate. Events have the simulator's shape and size (docs/simulator.md) with a
// UUID-shaped id. Prints one JSON line: events, seconds, events_per_s, client_cpu_s.
// Built by scripts/bench: gcc -O2 -o naive_redis bench/naive_redis.c -lhiredis
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { BATCH_MAX = 1000, DEPTH_MAX = 64, PROCS_MAX = 64, JSON_MAX = 192 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static long long wall_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "naive_redis: %s: %s\n", what, detail ? detail : "");
  exit(1);
}

static redisContext *dial(int port) {
  // Bounded waits: connect and every reply (a batch-1000 script holds Redis ~15 ms).
  struct timeval connect_timeout = {2, 0}, io_timeout = {10, 0};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, connect_timeout);
  if (!c || c->err) die("connect", c ? c->errstr : "out of memory");
  if (redisSetTimeout(c, io_timeout) != REDIS_OK) die("timeout", c->errstr);
  return c;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open script", path);
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

// One worker: batches until the deadline; adds its counts to the shared totals.
static void worker(int port, const char *sha, int proc, int depth, int batch, double deadline, int streams,
                   const char *tag, long *totals) {
  redisContext *c = dial(port);
  int argc_max = 3 + 5 + 1 + 2 * BATCH_MAX;
  // One argument array per in-flight batch: hiredis copies them into its output buffer on append,
  // but keeping them apart makes the lifetime obvious.
  const char **argv = malloc(sizeof(char *) * argc_max);
  size_t *argl = malloc(sizeof(size_t) * argc_max);
  char(*ids)[40] = malloc(40 * BATCH_MAX);
  char(*js)[JSON_MAX] = malloc(JSON_MAX * BATCH_MAX);
  if (!argv || !argl || !ids || !js) die("malloc", "");
  char keys[5][64], now_text[24];
  unsigned long counter = 0, events = 0, batches = 0;
  unsigned int rnd = 7919u * (unsigned)proc + 1u;
  while (now_s() < deadline) {
    for (int d = 0; d < depth; d++) {
      int s = rand_r(&rnd) % streams;
      snprintf(keys[0], 64, "naive:{s%05d}:stream", s);
      snprintf(keys[1], 64, "naive:{s%05d}:seq", s);
      snprintf(keys[2], 64, "naive:{s%05d}:dedup", s);
      snprintf(keys[3], 64, "naive:bytes");
      snprintf(keys[4], 64, "naive:dirty");
      long long ms = wall_ms();
      snprintf(now_text, sizeof now_text, "%lld", ms);
      int a = 0;
      argv[a] = "EVALSHA"; argl[a++] = 7;
      argv[a] = sha; argl[a++] = strlen(sha);
      argv[a] = "5"; argl[a++] = 1;
      for (int k = 0; k < 5; k++) { argv[a] = keys[k]; argl[a++] = strlen(keys[k]); }
      argv[a] = now_text; argl[a++] = strlen(now_text);
      for (int i = 0; i < batch; i++) {
        counter++;
        // 8-4-4-4-12 like a UUID: tag (8 hex), process, counter.
        snprintf(ids[i], 40, "%.8s-%04x-4%03x-8%03x-%012lx", tag, proc & 0xffff, (unsigned)(counter >> 24) & 0xfff,
                 (unsigned)(counter >> 12) & 0xfff, counter);
        int len = snprintf(js[i], JSON_MAX,
                           "{\"event_id\":\"%s\",\"event_type\":\"sensor.temperature\",\"ts_device_ms\":%lld,"
                           "\"payload\":{\"temperature\":%d.%02d}}",
                           ids[i], ms + i, 20 + (int)(counter % 15), (int)(counter % 100));
        argv[a] = ids[i]; argl[a++] = 36;
        argv[a] = js[i]; argl[a++] = (size_t)len;
      }
      if (redisAppendCommandArgv(c, a, argv, argl) != REDIS_OK) die("append", c->errstr);
    }
    for (int d = 0; d < depth; d++) {
      redisReply *r;
      if (redisGetReply(c, (void **)&r) != REDIS_OK) die("reply", c->errstr);
      if (r->type == REDIS_REPLY_ERROR) die("script error", r->str);
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) events += (unsigned long)r->element[0]->integer;
      batches++;
      freeReplyObject(r);
    }
  }
  __sync_fetch_and_add(&totals[0], (long)events);
  __sync_fetch_and_add(&totals[1], (long)batches);
  redisFree(c);
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: naive_redis PORT SCRIPT.lua PROCS DEPTH BATCH SECONDS STREAMS TAG\n");
    return 2;
  }
  int port = atoi(argv[1]), procs = atoi(argv[3]), depth = atoi(argv[4]), batch = atoi(argv[5]);
  double seconds = atof(argv[6]);
  int streams = atoi(argv[7]);
  const char *tag = argv[8];
  if (port <= 0 || procs < 1 || procs > PROCS_MAX || depth < 1 || depth > DEPTH_MAX || batch < 1 ||
      batch > BATCH_MAX || seconds <= 0 || seconds > 600 || streams < 1 || strlen(tag) != 8)
    die("bad arguments", "PROCS 1-64, DEPTH 1-64, BATCH 1-1000, SECONDS 0-600, TAG 8 hex digits");

  redisContext *c = dial(port);
  redisReply *r = redisCommand(c, "SCRIPT LOAD %s", read_file(argv[2]));
  if (!r || r->type != REDIS_REPLY_STRING) die("SCRIPT LOAD", r ? r->str : c->errstr);
  char sha[64];
  snprintf(sha, sizeof sha, "%s", r->str);
  freeReplyObject(r);
  redisFree(c);

  long *totals = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (totals == MAP_FAILED) die("mmap", "");
  double t0 = now_s(), deadline = t0 + seconds;
  for (int p = 0; p < procs; p++) {
    pid_t pid = fork();
    if (pid < 0) die("fork", "");
    if (pid == 0) {
      worker(port, sha, p, depth, batch, deadline, streams, tag, totals);
      _exit(0);
    }
  }
  int failed = 0;
  for (int p = 0; p < procs; p++) {
    int status;
    if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
  }
  double elapsed = now_s() - t0;
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("{\"events\":%ld,\"batches\":%ld,\"seconds\":%.3f,\"events_per_s\":%.1f,\"client_cpu_s\":%.3f}\n", totals[0],
         totals[1], elapsed, totals[0] / elapsed, cpu);
  return failed;
}
