// The router (fcgi/router.h) over fake endpoints that record their calls:
// paths and methods, the body limit and content types, the uid's routing,
// the operator endpoints' networks and socket, CORS preflights and the
// test clock, each answered with the SPEC's status and error code.
#define BOOST_TEST_DYN_LINK
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "fcgi/router.h"

using namespace popup;

namespace {

constexpr int64_t kNow = 1'800'000'000;

// Records each call: which endpoint, the uid, the clock and the owner flag.
class FakeEndpoints : public Endpoints {
 public:
  struct Call {
    std::string what, uid, request_id;
    int64_t now = 0;
    bool owner = false;
    int64_t popup_id = 0;
  };
  std::vector<Call> calls;
  void add(const char* what, const std::string& uid = "", int64_t now = 0, bool owner = false) {
    Call c;
    c.what = what;
    c.uid = uid;
    c.now = now;
    c.owner = owner;
    calls.push_back(c);
  }
  Response popup(const Visit& v, int64_t now, bool owner) override {
    add("popup", v.uid, now, owner);
    return Response{200, "{\"popup\":null}"};
  }
  Response peek(const Visit& v, int64_t now, bool owner) override {
    add("peek", v.uid, now, owner);
    return Response{200, "{\"popup\":null}"};
  }
  Response action(const ActionRequest& a, const std::string& request_id, int64_t now,
                  bool owner) override {
    add("action", a.uid, now, owner);
    calls.back().request_id = request_id;
    calls.back().popup_id = a.popup_id;
    return Response{202, "{\"ok\":true}"};
  }
  Response healthz() override {
    add("healthz");
    return Response{200, "{\"status\":\"ok\"}"};
  }
  Response metrics() override {
    add("metrics");
    return Response{200, "popup_requests_total 0\n"};
  }
};

Request get(const std::string& path, const std::string& query = "") {
  Request r;
  r.method = "GET";
  r.path = path;
  r.query = query;
  r.remote_addr = "127.0.0.1";
  return r;
}

Request post(const std::string& body, const std::string& type = "application/json",
             const std::string& query = "") {
  Request r = get("/api/popup/action", query);
  r.method = "POST";
  r.content_type = type;
  r.body = body;
  r.content_length = static_cast<int64_t>(body.size());
  return r;
}

struct World {
  FakeEndpoints svc;
  std::vector<Network> admin = parse_networks("127.0.0.0/8").value();
  CorsPolicy cors = parse_cors_origins("https://shop.example").value();
  RouteOptions o;
  World() {
    o.admin = &admin;
    o.cors = &cors;
  }
  Response route(const Request& r) { return popup::route(r, svc, o, kNow); }
  std::string called() const { return svc.calls.empty() ? "" : svc.calls.back().what; }
};

// The SPEC's error shape: {"error": code, "message": "..."}; returns code.
std::string error_code(const Response& r) {
  auto v = boost::json::parse(r.body).as_object();
  BOOST_TEST(v.size() == 2u);
  BOOST_TEST(!v.at("message").as_string().empty());
  return std::string(v.at("error").as_string());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(router)

BOOST_AUTO_TEST_CASE(each_path_reaches_its_endpoint) {
  World w;
  BOOST_TEST(w.route(get("/api/popup", "uid=alice")).status == 200);
  BOOST_TEST(w.called() == "popup");
  BOOST_TEST(w.svc.calls.back().uid == "alice");
  BOOST_TEST(w.svc.calls.back().now == kNow);
  BOOST_TEST(w.route(get("/api/healthz")).status == 200);
  BOOST_TEST(w.called() == "healthz");
  BOOST_TEST(w.route(get("/api/metrics")).status == 200);
  BOOST_TEST(w.called() == "metrics");
  Request a = post(R"({"uid":"bob","popup_id":3,"action":"click"})");
  a.request_id = "rid7";
  BOOST_TEST(w.route(a).status == 202);
  BOOST_TEST(w.called() == "action");
  BOOST_TEST(w.svc.calls.back().popup_id == 3);
  BOOST_TEST(w.svc.calls.back().request_id == "rid7");
  BOOST_TEST(w.svc.calls.size() == 4u);
}

BOOST_AUTO_TEST_CASE(an_unknown_path_is_404_not_found) {
  World w;
  for (const char* p : {"/", "/api", "/api/popup/", "/api/popups", "/api/popup/action/x"}) {
    Response r = w.route(get(p));
    BOOST_TEST(r.status == 404);
    BOOST_TEST(error_code(r) == "not_found");
  }
  BOOST_TEST(w.svc.calls.empty());
}

BOOST_AUTO_TEST_CASE(a_wrong_method_is_405_with_allow) {
  World w;
  struct Case { const char* method; const char* path; const char* allow; };
  for (auto c : {Case{"POST", "/api/popup", "GET, HEAD, OPTIONS"},
                 Case{"DELETE", "/api/popup", "GET, HEAD, OPTIONS"},
                 Case{"GET", "/api/popup/action", "POST, OPTIONS"},
                 Case{"HEAD", "/api/popup/action", "POST, OPTIONS"},
                 Case{"PUT", "/api/healthz", "GET, HEAD, OPTIONS"},
                 Case{"POST", "/api/metrics", "GET, HEAD"},
                 Case{"OPTIONS", "/api/metrics", "GET, HEAD"}}) {
    Request r = get(c.path, "uid=a");
    r.method = c.method;
    Response resp = w.route(r);
    BOOST_TEST(resp.status == 405);
    BOOST_TEST(error_code(resp) == "method_not_allowed");
    BOOST_REQUIRE(resp.allow);
    BOOST_TEST(std::string(resp.allow) == c.allow);
  }
  BOOST_TEST(w.svc.calls.empty());
}

BOOST_AUTO_TEST_CASE(head_peeks_and_records_nothing) {
  World w;
  Request r = get("/api/popup", "uid=carol");
  r.method = "HEAD";
  BOOST_TEST(w.route(r).status == 200);
  BOOST_TEST(w.called() == "peek");
  r.path = "/api/healthz";
  BOOST_TEST(w.route(r).status == 200);
  BOOST_TEST(w.called() == "healthz");
  BOOST_TEST(w.svc.calls.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_visit_without_a_valid_uid_is_400_before_the_endpoint) {
  World w;
  for (const char* q : {"", "platform=web", "uid=", "uid=a&platform=toaster"}) {
    Response r = w.route(get("/api/popup", q));
    BOOST_TEST(r.status == 400);
    BOOST_TEST(error_code(r) == "bad_request");
  }
  BOOST_TEST(w.svc.calls.empty());
}

BOOST_AUTO_TEST_CASE(a_body_over_4_kib_is_413) {
  World w;
  std::string big(kMaxBody + 1, 'x');
  Response r = w.route(post(big, "application/x-www-form-urlencoded"));
  BOOST_TEST(r.status == 413);
  BOOST_TEST(error_code(r) == "payload_too_large");
  Request declared = post("uid=a&popup_id=1&action=click", "application/x-www-form-urlencoded");
  declared.content_length = kMaxBody + 1;  // the length header alone
  BOOST_TEST(w.route(declared).status == 413);
  declared.content_length = -1;  // not a number
  r = w.route(declared);
  BOOST_TEST(r.status == 400);
  BOOST_TEST(error_code(r) == "bad_request");
  BOOST_TEST(w.svc.calls.empty());
  declared.content_length = kMaxBody;
  BOOST_TEST(w.route(declared).status == 202);  // at the limit: accepted
}

BOOST_AUTO_TEST_CASE(the_action_takes_form_json_or_beacon_text_and_refuses_other_types) {
  World w;
  BOOST_TEST(w.route(post("uid=a&popup_id=1&action=ignore",
                          "application/x-www-form-urlencoded; charset=UTF-8")).status == 202);
  BOOST_TEST(w.route(post(R"({"uid":"a","popup_id":1,"action":"ignore"})",
                          "Application/JSON")).status == 202);
  // navigator.sendBeacon's text/plain, holding either encoding
  BOOST_TEST(w.route(post(R"({"uid":"a","popup_id":1,"action":"ignore"})",
                          "text/plain;charset=UTF-8")).status == 202);
  BOOST_TEST(w.route(post("uid=a&popup_id=1&action=ignore", "text/plain")).status == 202);
  BOOST_TEST(w.svc.calls.size() == 4u);
  for (const char* type : {"", "multipart/form-data", "application/xml"}) {
    Response r = w.route(post(R"({"uid":"a","popup_id":1,"action":"ignore"})", type));
    BOOST_TEST(r.status == 400);
    BOOST_TEST(error_code(r) == "bad_request");
  }
  Response r = w.route(post(R"({"uid":"a","popup_id":1,"action":"like"})"));
  BOOST_TEST(r.status == 400);
  BOOST_TEST(w.svc.calls.size() == 4u);
}

BOOST_AUTO_TEST_CASE(the_uid_in_the_query_must_match_the_body_and_routes_to_the_owner) {
  World w;
  const std::string body = R"({"uid":"dan","popup_id":1,"action":"click"})";
  Request r = post(body, "application/json", "uid=eve");
  Response resp = w.route(r);
  BOOST_TEST(resp.status == 400);
  BOOST_TEST(error_code(resp) == "bad_request");
  BOOST_TEST(w.svc.calls.empty());
  r = post(body, "application/json", "uid=dan");
  r.via_slot = true;
  BOOST_TEST(w.route(r).status == 202);
  BOOST_TEST(w.svc.calls.back().owner);
  r = post(body);  // no uid in the query: nginx did not route it by uid
  r.via_slot = true;
  BOOST_TEST(w.route(r).status == 202);
  BOOST_TEST(!w.svc.calls.back().owner);
  r = post("popup_id=1&action=click", "application/x-www-form-urlencoded", "uid=dan");
  BOOST_TEST(w.route(r).status == 202);  // the query's uid alone
  BOOST_TEST(w.svc.calls.back().uid == "dan");
  BOOST_TEST(!w.svc.calls.back().owner);  // the shared socket
}

BOOST_AUTO_TEST_CASE(a_get_is_the_owners_only_on_its_slot_with_a_plain_uid) {
  World w;
  Request r = get("/api/popup", "uid=fred");
  r.via_slot = true;
  w.route(r);
  BOOST_TEST(w.svc.calls.back().owner);
  r.query = "uid=fr%65d";  // nginx hashed the escaped form
  w.route(r);
  BOOST_TEST(w.svc.calls.back().uid == "fred");
  BOOST_TEST(!w.svc.calls.back().owner);
  r = get("/api/popup", "uid=fred");
  w.route(r);
  BOOST_TEST(!w.svc.calls.back().owner);
}

BOOST_AUTO_TEST_CASE(metrics_outside_the_admin_networks_is_403) {
  World w;
  Request r = get("/api/metrics");
  r.remote_addr = "203.0.113.5";
  Response resp = w.route(r);
  BOOST_TEST(resp.status == 403);
  BOOST_TEST(error_code(resp) == "forbidden");
  r.remote_addr = "";
  BOOST_TEST(w.route(r).status == 403);
  w.o.admin = nullptr;  // no networks: nobody
  BOOST_TEST(w.route(get("/api/metrics")).status == 403);
  BOOST_TEST(w.svc.calls.empty());
  r.path = "/api/healthz";  // healthz is for everyone
  BOOST_TEST(w.route(r).status == 200);
}

BOOST_AUTO_TEST_CASE(with_an_admin_listener_metrics_is_there_alone) {
  World w;
  w.o.admin_listener = true;
  Response r = w.route(get("/api/metrics"));  // the public socket
  BOOST_TEST(r.status == 404);
  BOOST_TEST(error_code(r) == "not_found");
  BOOST_TEST(w.svc.calls.empty());
  Request a = get("/api/metrics");
  a.via_admin = true;
  BOOST_TEST(w.route(a).status == 200);
  BOOST_TEST(w.called() == "metrics");
  a.path = "/api/healthz";
  BOOST_TEST(w.route(a).status == 200);
  BOOST_TEST(w.called() == "healthz");
  for (const char* p : {"/api/popup", "/api/popup/action", "/nothing"}) {
    a.path = p;
    a.query = "uid=x";
    r = w.route(a);
    BOOST_TEST(r.status == 404);
    BOOST_TEST(error_code(r) == "not_found");
  }
  BOOST_TEST(w.svc.calls.size() == 2u);
  BOOST_TEST(w.route(get("/api/popup", "uid=x")).status == 200);  // public socket
}

BOOST_AUTO_TEST_CASE(options_on_a_browser_endpoint_is_a_204_preflight) {
  World w;
  for (const char* p : {"/api/popup", "/api/popup/action", "/api/healthz"}) {
    Request r = get(p);
    r.method = "OPTIONS";
    r.origin = "https://shop.example";
    r.cors_method = "POST";
    Response resp = w.route(r);
    BOOST_TEST(resp.status == 204);
    BOOST_TEST(resp.body.empty());
    BOOST_REQUIRE(resp.allow);
    BOOST_TEST(std::string(resp.allow) == allowed_methods(endpoint_of(p)));
    std::string h = cors_headers(r, endpoint_of(p), w.o);
    BOOST_TEST(h.find("Access-Control-Allow-Origin: https://shop.example") != std::string::npos);
  }
  BOOST_TEST(w.svc.calls.empty());
  Request other = get("/api/popup");
  other.origin = "https://evil.example";
  BOOST_TEST(cors_headers(other, Endpoint::popup, w.o).find("Allow-Origin") == std::string::npos);
  BOOST_TEST(cors_headers(get("/api/metrics"), Endpoint::metrics, w.o).empty());
}

BOOST_AUTO_TEST_CASE(the_test_clock_header_counts_only_with_test_clock) {
  World w;
  Request r = get("/api/popup", "uid=gil");
  r.test_now = "1900000000";
  w.route(r);
  BOOST_TEST(w.svc.calls.back().now == kNow);  // ignored
  w.o.test_clock = true;
  w.route(r);
  BOOST_TEST(w.svc.calls.back().now == 1'900'000'000);
  for (const char* bad : {"soon", "-5", "12.5", "1e9"}) {
    r.test_now = bad;
    Response resp = w.route(r);
    BOOST_TEST(resp.status == 400);
    BOOST_TEST(error_code(resp) == "bad_request");
  }
  BOOST_TEST(w.svc.calls.size() == 2u);
  r.test_now = "";
  w.route(r);
  BOOST_TEST(w.svc.calls.back().now == kNow);
}

BOOST_AUTO_TEST_CASE(the_frame_says_the_status_type_and_length) {
  Response ok{200, "popup_requests_total 0\n"};
  std::string m = http_frame(ok, Endpoint::metrics);
  BOOST_TEST(m.rfind("Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n", 0) == 0);
  Response refused = error_response("method_not_allowed", "GET, HEAD only");
  refused.allow = "GET, HEAD";
  std::string f = http_frame(refused, Endpoint::metrics, "X-Extra: 1\r\n");
  BOOST_TEST(f.rfind("Status: 405 Method Not Allowed\r\nContent-Type: application/json\r\n", 0) == 0);
  BOOST_TEST(f.find("Allow: GET, HEAD\r\n") != std::string::npos);
  BOOST_TEST(f.find("X-Extra: 1\r\n") != std::string::npos);
  std::string tail = "Content-Length: " + std::to_string(refused.body.size()) + "\r\n\r\n" +
                     refused.body;
  BOOST_TEST(f.size() >= tail.size());
  BOOST_TEST(f.compare(f.size() - tail.size(), tail.size(), tail) == 0);
  Response none{204, ""};
  none.allow = "POST, OPTIONS";
  std::string n = http_frame(none, Endpoint::action);
  BOOST_TEST(n.rfind("Status: 204 No Content\r\nCache-Control: no-store\r\n", 0) == 0);
  BOOST_TEST(n.find("Content-Type") == std::string::npos);
  BOOST_TEST(n.find("Content-Length: 0\r\n\r\n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
