// One pass over an ingest body with simdjson's on-demand API. Field order is free: objects are
// walked once and fields matched by name, so the cost is linear in the body size.
#include "ingest_json.h"
#include <simdjson.h>
#include <cstring>

using namespace simdjson;

namespace {

thread_local ondemand::parser parser;   // one per HTTP worker thread, reused across requests

constexpr uint32_t ABSENT = UINT32_MAX;
constexpr ees_span absent_span = {ABSENT, ABSENT};

struct Scratch {
    char *base;
    size_t cap;
    size_t used = 0;
    bool put(std::string_view s, ees_span &out) {
        if (used + s.size() > cap) return false;
        memcpy(base + used, s.data(), s.size());
        out.off = uint32_t(used);
        out.len = uint32_t(s.size());
        used += s.size();
        return true;
    }
};

struct Failure {
    ees_request_index *req;
    int32_t fail(ees_json_status st, int32_t event, const char *field) {
        req->status = st;
        req->error_event = event;
        strncpy(req->error_field, field, sizeof(req->error_field) - 1);
        req->error_field[sizeof(req->error_field) - 1] = 0;
        return st;
    }
};

// Maps a simdjson error while reading a typed value to our status.
ees_json_status classify(error_code e) {
    switch (e) {
    case INCORRECT_TYPE: case NUMBER_OUT_OF_RANGE: case NUMBER_ERROR:
        return EES_JSON_WRONG_TYPE;
    default:
        return EES_JSON_MALFORMED;
    }
}

// On-demand parsing skips values it is not asked for without checking them fully; this walks a
// value completely so that every accepted byte is valid JSON. Depth is bounded.
constexpr int MAX_DEPTH = 32;
bool valid_value(ondemand::value v, int depth) {
    if (depth > MAX_DEPTH) return false;
    ondemand::json_type t;
    if (v.type().get(t)) return false;
    switch (t) {
    case ondemand::json_type::object: {
        ondemand::object o;
        if (v.get_object().get(o)) return false;
        for (auto field : o) {
            std::string_view k;
            ondemand::value inner;
            if (field.unescaped_key().get(k) || field.value().get(inner)) return false;
            if (!valid_value(inner, depth + 1)) return false;
        }
        return true;
    }
    case ondemand::json_type::array: {
        ondemand::array a;
        if (v.get_array().get(a)) return false;
        for (auto item : a) {
            ondemand::value inner;
            if (item.get(inner) || !valid_value(inner, depth + 1)) return false;
        }
        return true;
    }
    case ondemand::json_type::number: { double d; return !v.get_double().get(d); }
    case ondemand::json_type::string: { std::string_view s; return !v.get_string().get(s); }
    case ondemand::json_type::boolean: { bool b; return !v.get_bool().get(b); }
    case ondemand::json_type::null: return v.is_null();
    }
    return false;
}

} // namespace

extern "C" int32_t ees_index_request(const char *body, size_t len, char *scratch, size_t scratch_cap,
                                     ees_request_index *req, ees_event_index *events, size_t max_events) {
    memset(req, 0, sizeof(*req));
    req->device_id = req->batch_id = req->stream_key = absent_span;
    req->error_event = -1;
    Failure f{req};
    Scratch sc{scratch, scratch_cap};

    ondemand::document doc;
    if (parser.iterate(body, len, len + EES_JSON_PADDING).get(doc)) return f.fail(EES_JSON_MALFORMED, -1, "body");
    ondemand::object root;
    if (auto e = doc.get_object().get(root)) return f.fail(e == INCORRECT_TYPE ? EES_JSON_WRONG_TYPE : EES_JSON_MALFORMED, -1, "body");

    // Only whitespace may follow the root object.
    std::string_view whole;
    if (root.raw_json().get(whole)) return f.fail(EES_JSON_MALFORMED, -1, "body");
    for (const char *p = whole.data() + whole.size(); p < body + len; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') return f.fail(EES_JSON_MALFORMED, -1, "body");
    }
    bool reset_ok;
    if (root.reset().get(reset_ok)) return f.fail(EES_JSON_MALFORMED, -1, "body");

    bool have_device = false, have_batch = false, have_sent = false, have_events = false;
    size_t n = 0;
    for (auto field : root) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return f.fail(EES_JSON_MALFORMED, -1, "body");
        ondemand::value v;
        if (field.value().get(v)) return f.fail(EES_JSON_MALFORMED, -1, "body");
        std::string_view s;
        if (key == "device_id" || key == "batch_id" || key == "stream_key") {
            const char *name = key == "device_id" ? "device_id" : key == "batch_id" ? "batch_id" : "stream_key";
            if (auto e = v.get_string().get(s)) return f.fail(classify(e), -1, name);
            ees_span &dst = key == "device_id" ? req->device_id : key == "batch_id" ? req->batch_id : req->stream_key;
            if (!sc.put(s, dst)) return f.fail(EES_JSON_CAPACITY, -1, name);
            if (key == "device_id") have_device = true;
            if (key == "batch_id") have_batch = true;
        } else if (key == "sent_at_ms") {
            if (auto e = v.get_int64().get(req->sent_at_ms)) return f.fail(classify(e), -1, "sent_at_ms");
            have_sent = true;
        } else if (key == "events") {
            ondemand::array arr;
            if (auto e = v.get_array().get(arr)) return f.fail(classify(e), -1, "events");
            have_events = true;
            for (auto item : arr) {
                if (n >= max_events) return f.fail(EES_JSON_TOO_MANY, int32_t(n), "events");
                ees_event_index &ev = events[n];
                ev.raw = ev.event_id = ev.event_type = ev.stream_key = absent_span;
                ev.ts_device_ms = 0;
                const int32_t idx = int32_t(n);
                ondemand::object o;
                if (auto e = item.get_object().get(o)) return f.fail(classify(e), idx, "event");
                bool has_id = false, has_type = false, has_ts = false, has_payload = false;
                for (auto ef : o) {
                    std::string_view ek;
                    if (ef.unescaped_key().get(ek)) return f.fail(EES_JSON_MALFORMED, idx, "event");
                    ondemand::value ev_v;
                    if (ef.value().get(ev_v)) return f.fail(EES_JSON_MALFORMED, idx, "event");
                    if (ek == "event_id" || ek == "event_type" || ek == "stream_key") {
                        const char *name = ek == "event_id" ? "event_id" : ek == "event_type" ? "event_type" : "stream_key";
                        if (auto e = ev_v.get_string().get(s)) return f.fail(classify(e), idx, name);
                        ees_span &dst = ek == "event_id" ? ev.event_id : ek == "event_type" ? ev.event_type : ev.stream_key;
                        if (!sc.put(s, dst)) return f.fail(EES_JSON_CAPACITY, idx, name);
                        if (ek == "event_id") has_id = true;
                        if (ek == "event_type") has_type = true;
                    } else if (ek == "ts_device_ms") {
                        if (auto e = ev_v.get_int64().get(ev.ts_device_ms)) return f.fail(classify(e), idx, "ts_device_ms");
                        has_ts = true;
                    } else if (ek == "local_seq") {
                        int64_t ignored;
                        if (auto e = ev_v.get_int64().get(ignored)) return f.fail(classify(e), idx, "local_seq");
                    } else if (ek == "sensor") {
                        if (auto e = ev_v.get_string().get(s)) return f.fail(classify(e), idx, "sensor");
                    } else if (ek == "payload" || ek == "headers" || ek == "meta") {
                        const char *name = ek == "payload" ? "payload" : ek == "headers" ? "headers" : "meta";
                        ondemand::json_type t;
                        if (ev_v.type().get(t)) return f.fail(EES_JSON_MALFORMED, idx, name);
                        if (t != ondemand::json_type::object) return f.fail(EES_JSON_WRONG_TYPE, idx, name);
                        // Walk every value so malformed content is refused now, not found by a reader later.
                        if (!valid_value(ev_v, 0)) return f.fail(EES_JSON_MALFORMED, idx, name);
                        if (ek == "payload") has_payload = true;
                    } else {
                        // Unknown fields are kept (they travel in the raw bytes) but must be valid JSON.
                        if (!valid_value(ev_v, 0)) return f.fail(EES_JSON_MALFORMED, idx, "event");
                    }
                }
                if (!has_id) return f.fail(EES_JSON_MISSING, idx, "event_id");
                if (!has_type) return f.fail(EES_JSON_MISSING, idx, "event_type");
                if (!has_ts) return f.fail(EES_JSON_MISSING, idx, "ts_device_ms");
                if (!has_payload) return f.fail(EES_JSON_MISSING, idx, "payload");
                std::string_view raw;
                if (o.raw_json().get(raw)) return f.fail(EES_JSON_MALFORMED, idx, "event");
                // raw_json() runs up to the next token, so it includes whitespace after the closing
                // brace; the event's bytes end at that brace.
                while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
                    raw.remove_suffix(1);
                }
                ev.raw.off = uint32_t(raw.data() - body);
                ev.raw.len = uint32_t(raw.size());
                n++;
            }
        } else {
            // Unknown top-level fields are ignored, but must be well-formed.
            if (!valid_value(v, 0)) return f.fail(EES_JSON_MALFORMED, -1, "body");
        }
    }
    if (!have_device) return f.fail(EES_JSON_MISSING, -1, "device_id");
    if (!have_batch) return f.fail(EES_JSON_MISSING, -1, "batch_id");
    if (!have_sent) return f.fail(EES_JSON_MISSING, -1, "sent_at_ms");
    if (!have_events) return f.fail(EES_JSON_MISSING, -1, "events");
    req->event_count = uint32_t(n);
    return EES_JSON_OK;
}
