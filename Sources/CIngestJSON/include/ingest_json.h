#ifndef EES_INGEST_JSON_H
#define EES_INGEST_JSON_H
/* Indexes one POST /ingest body with simdjson (on-demand), once, without copying events.
 * Strings that need unescaping (ids, keys) are written into a caller-provided scratch buffer;
 * each event's raw JSON bytes are reported as a span of the body itself. */
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* simdjson reads up to this many bytes past the end of the body; the caller's buffer must have them. */
#define EES_JSON_PADDING 64

typedef struct { uint32_t off; uint32_t len; } ees_span;     /* len == UINT32_MAX: absent */

typedef struct {
    ees_span raw;          /* the event object's bytes, in the body */
    ees_span event_id;     /* unescaped, in scratch */
    ees_span event_type;   /* unescaped, in scratch */
    ees_span stream_key;   /* unescaped, in scratch; absent allowed */
    int64_t ts_device_ms;
} ees_event_index;

typedef enum {
    EES_JSON_OK = 0,
    EES_JSON_MALFORMED = 1,    /* not JSON, or not UTF-8 */
    EES_JSON_MISSING = 2,      /* required field missing */
    EES_JSON_WRONG_TYPE = 3,   /* field present with the wrong JSON type (or number not an int64) */
    EES_JSON_TOO_MANY = 4,     /* more events than max_events */
    EES_JSON_CAPACITY = 5,     /* scratch buffer too small (caller bug) */
} ees_json_status;

typedef struct {
    ees_span device_id, batch_id, stream_key;   /* unescaped, in scratch; stream_key may be absent */
    int64_t sent_at_ms;
    uint32_t event_count;
    int32_t status;            /* ees_json_status */
    int32_t error_event;       /* index of the event at fault, or -1 for a top-level field */
    char error_field[32];      /* the field at fault ("event_id", "payload", ...), NUL-terminated */
} ees_request_index;

/* body must be readable for len + EES_JSON_PADDING bytes. scratch_cap >= len is always enough. */
int32_t ees_index_request(const char *body, size_t len, char *scratch, size_t scratch_cap,
                          ees_request_index *req, ees_event_index *events, size_t max_events);

#ifdef __cplusplus
}
#endif
#endif
