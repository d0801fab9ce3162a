#!/usr/bin/env python3
"""A small fake Metabase for testing `ees metabase provision` (no real Metabase can run here).

It serves the endpoints the provisioner calls, on 127.0.0.1 and a free port, and enforces the
request shapes Metabase documents for 0.47-0.50 (see docs/metabase.md):
  - JSON bodies (Content-Type: application/json) with the required fields of each endpoint,
    checked the way Metabase's schemas check them (non-blank names, positive ids, maps, ...);
  - the X-Metabase-Session or x-api-key header on every call except GET /api/health,
    GET /api/session/properties, POST /api/setup and POST /api/session (else 401 "Unauthenticated");
  - POST /api/setup only once, with the setup token of /api/session/properties (403 afterwards);
  - ids assigned in order; lookups by listing (GET /api/database, /api/collection,
    /api/collection/:id/items) return what was created;
  - PUT /api/dashboard/:id replaces the dashcards (negative ids create, missing ones are deleted)
    and checks parameter_mappings against the dashboard's parameters and the card's template tags.
State is in memory; GET /__state returns all of it (plus per-endpoint call counts) for assertions.

  fake_metabase.py --port-file F [--api-key K] [--preset-user EMAIL:PASSWORD] [--initializing-s N]

The port is written to F once the server listens. Stops on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
TAG_IN_SQL = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
TEMPLATE_TAG_TYPES = {"text", "number", "date", "dimension", "card", "snippet"}
DISPLAYS = {"table", "line", "bar", "area", "row", "pie", "scalar", "combo", "scatter", "map", "progress", "gauge",
            "funnel", "object", "pivot", "smartscalar", "waterfall"}
ENGINES = {"postgres", "h2", "mysql", "sqlite"}
PASSWORD_MASK = "**MetabasePass**"


class ApiError(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status = status
        self.body = body


def bad(field, why):
    """400 with Metabase's per-field error shape."""
    return ApiError(400, {"errors": {field: why}})


def non_blank(body, field, required=True):
    v = body.get(field)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v.strip():
        raise bad(field, "value must be a non-blank string.")
    return v


def positive_int(v, field, required=True):
    if v is None and not required:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise bad(field, "value must be an integer greater than zero.")
    return v


def a_map(body, field, required=True):
    v = body.get(field)
    if v is None and not required:
        return None
    if not isinstance(v, dict):
        raise bad(field, "value must be a map.")
    return v


class Fake:
    def __init__(self, api_key, preset_user, initializing_s):
        self.lock = threading.Lock()
        self.ready_at = time.monotonic() + initializing_s
        self.setup_token = str(uuid.uuid4())
        self.users = {}  # email -> password
        self.sessions = set()
        self.api_key = api_key
        self.next_id = {"database": 1, "collection": 1, "card": 1, "dashboard": 1, "dashcard": 1}
        self.databases, self.collections, self.cards, self.dashboards = {}, {}, {}, {}
        self.calls = {}  # "METHOD /route" -> count
        self.log = []  # {method, path, auth, status}
        self.syncs = 0
        self.setup_calls = 0
        if preset_user:
            email, _, password = preset_user.partition(":")
            self.users[email] = password
            self.setup_token = None

    def new_id(self, kind):
        i = self.next_id[kind]
        self.next_id[kind] = i + 1
        return i

    # ------------------------------------------------------------------------ dispatch
    def handle(self, method, raw_path, headers, body):
        path = urlsplit(raw_path).path.rstrip("/") or "/"
        query = parse_qs(urlsplit(raw_path).query)
        if path == "/__state" and method == "GET":
            return 200, self.state()
        if time.monotonic() < self.ready_at:
            return 503, {"status": "initializing", "progress": 0.5}
        open_routes = {("GET", "/api/health"), ("GET", "/api/session/properties"), ("POST", "/api/setup"),
                       ("POST", "/api/session")}
        auth = "none"
        if (method, path) not in open_routes:
            session = headers.get("X-Metabase-Session")
            key = headers.get("x-api-key")
            if session and session in self.sessions:
                auth = "session"
            elif key and self.api_key and key == self.api_key and self.users:
                auth = "api-key"
            else:
                return 401, "Unauthenticated"
        if method in ("POST", "PUT"):
            if body and "application/json" not in (headers.get("Content-Type") or ""):
                raise ApiError(400, {"message": "request body must be application/json"})
            try:
                data = json.loads(body) if body else {}
            except ValueError:
                raise ApiError(400, {"message": "malformed JSON"})
            if not isinstance(data, dict):
                raise ApiError(400, {"message": "the body must be a JSON object"})
        else:
            data = None
        for pattern, handler in self.routes():
            m = re.fullmatch(pattern, f"{method} {path}")
            if m:
                route = pattern.replace("\\d+", ":id").replace("(", "").replace(")", "")
                self.calls[route] = self.calls.get(route, 0) + 1
                return handler(data, query, *[int(g) for g in m.groups()])
        return 404, "API endpoint does not exist."

    def routes(self):
        return [
            (r"GET /api/health", lambda d, q: (200, {"status": "ok"})),
            (r"GET /api/session/properties", self.properties),
            (r"POST /api/setup", self.setup),
            (r"POST /api/session", self.login),
            (r"GET /api/user/current", lambda d, q: (200, {"id": 1, "email": next(iter(self.users)), "is_superuser": True})),
            (r"GET /api/database", self.list_databases),
            (r"POST /api/database", self.create_database),
            (r"PUT /api/database/(\d+)", self.update_database),
            (r"POST /api/database/(\d+)/sync_schema", self.sync_schema),
            (r"GET /api/collection", self.list_collections),
            (r"POST /api/collection", self.create_collection),
            (r"GET /api/collection/(\d+)/items", self.collection_items),
            (r"POST /api/card", self.create_card),
            (r"GET /api/card/(\d+)", lambda d, q, i: (200, self.card(i))),
            (r"PUT /api/card/(\d+)", self.update_card),
            (r"POST /api/dashboard", self.create_dashboard),
            (r"GET /api/dashboard/(\d+)", lambda d, q, i: (200, self.dashboard(i))),
            (r"PUT /api/dashboard/(\d+)", self.update_dashboard),
        ]

    # ------------------------------------------------------------------------ setup and sessions
    def properties(self, data, query):
        return 200, {"setup-token": self.setup_token, "has-user-setup": bool(self.users),
                     "version": {"tag": "v0.50.0-fake"}}

    def setup(self, data, query):
        self.setup_calls += 1
        if self.users:
            raise ApiError(403, {"message": "The /api/setup route can only be used to create the first user, "
                                            "however a user currently exists."})
        if data.get("token") != self.setup_token:
            raise bad("token", "Token does not match the setup token.")
        user = a_map(data, "user")
        if not EMAIL.match(str(user.get("email", ""))):
            raise bad("email", "value must be a valid email address.")
        non_blank(user, "password")
        prefs = a_map(data, "prefs")
        non_blank(prefs, "site_name")
        self.users[user["email"]] = user["password"]
        self.setup_token = None
        return 200, {"id": self.new_session()}

    def new_session(self):
        s = str(uuid.uuid4())
        self.sessions.add(s)
        return s

    def login(self, data, query):
        username = non_blank(data, "username")
        non_blank(data, "password")
        if self.users.get(username) != data["password"]:
            raise ApiError(401, {"errors": {"password": "did not match stored password"}})
        return 200, {"id": self.new_session()}

    # ------------------------------------------------------------------------ databases
    def check_database(self, data, partial):
        if not partial or "name" in data:
            non_blank(data, "name")
        if not partial or "engine" in data:
            if data.get("engine") not in ENGINES:
                raise bad("engine", "value must be a valid database engine.")
        if not partial or "details" in data:
            details = a_map(data, "details")
            if data.get("engine", "postgres") == "postgres":
                for f in ("host", "dbname", "user"):
                    non_blank(details, f)
                positive_int(details.get("port"), "port")

    def public_db(self, db):
        out = dict(db)
        out["details"] = dict(db["details"])
        if out["details"].get("password"):
            out["details"]["password"] = PASSWORD_MASK  # Metabase never returns the password
        return out

    def list_databases(self, data, query):
        dbs = [self.public_db(d) for d in self.databases.values()]
        return 200, {"data": dbs, "total": len(dbs)}

    def create_database(self, data, query):
        self.check_database(data, partial=False)
        i = self.new_id("database")
        self.databases[i] = {"id": i, "name": data["name"], "engine": data["engine"], "details": data["details"],
                             "is_full_sync": data.get("is_full_sync", True), "updates": 0}
        return 200, self.public_db(self.databases[i])

    def update_database(self, data, query, i):
        db = self.databases.get(i) or self.not_found()
        self.check_database(data, partial=True)
        for k in ("name", "engine", "details"):
            if k in data:
                db[k] = data[k]
        db["updates"] += 1
        return 200, self.public_db(db)

    def sync_schema(self, data, query, i):
        self.databases.get(i) or self.not_found()
        self.syncs += 1
        return 200, {"status": "ok"}

    # ------------------------------------------------------------------------ collections
    def list_collections(self, data, query):
        root = {"id": "root", "name": "Our analytics", "location": None, "can_write": True}
        return 200, [root] + list(self.collections.values())

    def create_collection(self, data, query):
        non_blank(data, "name")
        if data.get("color") is not None and not HEX_COLOR.match(str(data["color"])):
            raise bad("color", "value must be a string that matches the regex `^#[0-9A-Fa-f]{6}$`.")
        parent = positive_int(data.get("parent_id"), "parent_id", required=False)
        if parent is not None and parent not in self.collections:
            self.not_found()
        i = self.new_id("collection")
        location = "/" if parent is None else f"{self.collections[parent]['location']}{parent}/"
        self.collections[i] = {"id": i, "name": data["name"], "description": data.get("description"),
                               "color": data.get("color"), "location": location, "archived": False,
                               "personal_owner_id": None}
        return 200, self.collections[i]

    def collection_items(self, data, query, i):
        self.collections.get(i) or self.not_found()
        models = set(query.get("models", ["card", "dashboard", "collection"]))
        items = []
        if "card" in models:
            items += [{"id": c["id"], "name": c["name"], "model": "card", "display": c["display"]}
                      for c in self.cards.values() if c["collection_id"] == i]
        if "dashboard" in models:
            items += [{"id": d["id"], "name": d["name"], "model": "dashboard"}
                      for d in self.dashboards.values() if d["collection_id"] == i]
        return 200, {"data": items, "total": len(items), "models": sorted(models), "limit": None, "offset": None}

    # ------------------------------------------------------------------------ cards
    def check_card(self, data, partial):
        for field in ("name", "display"):
            if not partial or field in data:
                non_blank(data, field)
        if "display" in data and data["display"] not in DISPLAYS:
            raise bad("display", "unknown display")
        if not partial or "visualization_settings" in data:
            a_map(data, "visualization_settings")
        if "description" in data and data["description"] is not None:
            non_blank(data, "description")
        if "collection_id" in data and data["collection_id"] is not None:
            if positive_int(data["collection_id"], "collection_id") not in self.collections:
                self.not_found()
        if not partial or "dataset_query" in data:
            self.check_query(a_map(data, "dataset_query"))
        for p in data.get("parameters") or []:
            if not isinstance(p, dict) or not p.get("id") or not p.get("type"):
                raise bad("parameters", "each parameter needs a non-blank id and type")

    def check_query(self, q):
        if q.get("type") not in ("native", "query"):
            raise bad("dataset_query", "type must be native or query")
        if positive_int(q.get("database"), "database") not in self.databases:
            raise bad("database", "no database with that id")
        if q["type"] != "native":
            return
        native = a_map(q, "native")
        sql = non_blank(native, "query")
        tags = native.get("template-tags") or {}
        if not isinstance(tags, dict):
            raise bad("template-tags", "value must be a map.")
        for name, tag in tags.items():
            if not isinstance(tag, dict) or tag.get("name") != name or not tag.get("id") \
                    or not tag.get("display-name") or tag.get("type") not in TEMPLATE_TAG_TYPES:
                raise bad("template-tags", f"tag {name!r} needs id, name (= its key), display-name and a valid type")
        used = set(TAG_IN_SQL.findall(sql))
        if used != set(tags):
            raise bad("template-tags", f"tags in the SQL {sorted(used)} differ from those declared {sorted(tags)}")

    def card(self, i):
        return self.cards.get(i) or self.not_found()

    def create_card(self, data, query):
        self.check_card(data, partial=False)
        i = self.new_id("card")
        card = {k: data.get(k) for k in ("name", "description", "display", "visualization_settings",
                                         "dataset_query", "collection_id", "parameters")}
        card.update({"id": i, "updates": 0, "archived": False})
        self.cards[i] = card
        return 200, card

    def update_card(self, data, query, i):
        card = self.card(i)
        self.check_card(data, partial=True)
        for k in ("name", "description", "display", "visualization_settings", "dataset_query", "collection_id",
                  "parameters"):
            if k in data:
                card[k] = data[k]
        card["updates"] += 1
        return 200, card

    # ------------------------------------------------------------------------ dashboards
    def check_parameters(self, params):
        if not isinstance(params, list):
            raise bad("parameters", "value must be an array.")
        for p in params:
            if not isinstance(p, dict) or not p.get("id") or not p.get("type"):
                raise bad("parameters", "each parameter needs a non-blank id and type")
        return params

    def dashboard(self, i):
        return self.dashboards.get(i) or self.not_found()

    def create_dashboard(self, data, query):
        non_blank(data, "name")
        if data.get("collection_id") is not None and \
                positive_int(data["collection_id"], "collection_id") not in self.collections:
            self.not_found()
        i = self.new_id("dashboard")
        self.dashboards[i] = {"id": i, "name": data["name"], "description": data.get("description"),
                              "collection_id": data.get("collection_id"),
                              "parameters": self.check_parameters(data.get("parameters") or []),
                              "dashcards": [], "tabs": [], "updates": 0}
        return 200, self.dashboards[i]

    def update_dashboard(self, data, query, i):
        dash = self.dashboard(i)
        if "name" in data:
            non_blank(data, "name")
        params = self.check_parameters(data["parameters"]) if "parameters" in data else dash["parameters"]
        if data.get("tabs"):
            raise bad("tabs", "the fake supports dashboards without tabs only")
        dashcards = None
        if "dashcards" in data:
            dashcards = self.check_dashcards(dash, data["dashcards"], params)
        for k in ("name", "description"):
            if k in data:
                dash[k] = data[k]
        dash["parameters"] = params
        if dashcards is not None:
            dash["dashcards"] = dashcards
        dash["updates"] += 1
        return 200, dash

    def check_dashcards(self, dash, dashcards, params):
        """Metabase's UpdatedDashboardCard schema, then the diff: negative id = new, omitted = deleted."""
        if not isinstance(dashcards, list):
            raise bad("dashcards", "value must be an array.")
        existing = {dc["id"] for dc in dash["dashcards"]}
        ids = [dc.get("id") if isinstance(dc, dict) else None for dc in dashcards]
        if len(set(map(str, ids))) != len(ids):
            raise bad("dashcards", "value must be seq of maps in which ids are unique")
        param_ids = {p["id"] for p in params}
        out = []
        for dc in dashcards:
            if not isinstance(dc, dict) or not isinstance(dc.get("id"), int) or isinstance(dc.get("id"), bool):
                raise bad("dashcards", "each dashcard needs an integer id")
            for f in ("size_x", "size_y"):
                positive_int(dc.get(f), f)
            for f in ("row", "col"):
                if not isinstance(dc.get(f), int) or dc[f] < 0:
                    raise bad(f, "value must be an integer greater than or equal to zero.")
            if dc["id"] > 0 and dc["id"] not in existing:
                raise ApiError(404, "Not found.")
            card = self.cards.get(dc.get("card_id")) or self.not_found()
            tags = card["dataset_query"]["native"].get("template-tags", {}) \
                if card["dataset_query"]["type"] == "native" else {}
            for pm in dc.get("parameter_mappings") or []:
                if not isinstance(pm, dict) or not isinstance(pm.get("parameter_id"), str) or not pm["parameter_id"]:
                    raise bad("parameter_mappings", "parameter_id must be a non-blank string")
                if "target" not in pm:
                    raise bad("parameter_mappings", "target is required")
                if pm["parameter_id"] not in param_ids:
                    raise bad("parameter_mappings", f"no dashboard parameter {pm['parameter_id']!r}")
                if pm.get("card_id", card["id"]) != card["id"]:
                    raise bad("parameter_mappings", "card_id differs from the dashcard's card")
                t = pm["target"]
                if not (isinstance(t, list) and len(t) == 2 and t[0] in ("variable", "dimension")
                        and isinstance(t[1], list) and len(t[1]) == 2 and t[1][0] == "template-tag"
                        and t[1][1] in tags):
                    raise bad("parameter_mappings", f"target {t!r} is not a template tag of card {card['id']}")
            new = dict(dc)
            if new["id"] < 0:
                new["id"] = self.new_id("dashcard")
            out.append(new)
        return out

    # ------------------------------------------------------------------------ helpers
    def not_found(self):
        raise ApiError(404, "Not found.")

    def state(self):
        return {
            "setup_calls": self.setup_calls, "users": sorted(self.users), "sessions": sorted(self.sessions),
            "databases": list(self.databases.values()), "collections": list(self.collections.values()),
            "cards": list(self.cards.values()), "dashboards": list(self.dashboards.values()),
            "syncs": self.syncs, "calls": self.calls, "log": self.log,
        }


def make_handler(fake):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the client expects

        def do(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            if length > 1 << 20:
                self.reply(413, "body too large")
                return
            body = self.rfile.read(length) if length else b""
            with fake.lock:
                try:
                    status, out = fake.handle(method, self.path, self.headers, body)
                except ApiError as e:
                    status, out = e.status, e.body
                auth = "session" if self.headers.get("X-Metabase-Session") else \
                    "api-key" if self.headers.get("x-api-key") else "none"
                if not self.path.startswith("/__state"):
                    fake.log.append({"method": method, "path": self.path, "auth": auth, "status": status})
            self.reply(status, out)

        def reply(self, status, out):
            text = isinstance(out, str)
            data = out.encode() if text else json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.do("GET")

        def do_POST(self):
            self.do("POST")

        def do_PUT(self):
            self.do("PUT")

        def do_DELETE(self):
            self.do("DELETE")

        def log_message(self, fmt, *args):
            pass  # the request log is in /__state

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--api-key")
    ap.add_argument("--preset-user", help="EMAIL:PASSWORD of an admin that already exists (instance set up)")
    ap.add_argument("--initializing-s", type=float, default=0, help="answer 503 for this long after start")
    args = ap.parse_args()
    fake = Fake(args.api_key, args.preset_user, args.initializing_s)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
