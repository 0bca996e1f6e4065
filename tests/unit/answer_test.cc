#define BOOST_TEST_DYN_LINK
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "core/answer.h"

using namespace popup;

namespace {
Popup sample() {
  Popup p;
  p.id = 7;
  p.name = "internal label";
  p.title = "Sale";
  p.body = "Half off";
  p.image_url = "https://e.example/i.png";
  p.link_url = "https://e.example/sale?a=1&b=2";
  return p;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(answers)

BOOST_AUTO_TEST_CASE(no_popup_is_popup_null) {
  BOOST_TEST(popup_answer(nullptr) == R"({"popup":null})");
}

BOOST_AUTO_TEST_CASE(popup_answer_has_exactly_the_client_fields_in_order) {
  Popup p = sample();
  BOOST_TEST(popup_answer(&p) ==
             R"({"popup":{"id":7,"title":"Sale","body":"Half off",)"
             R"("image_url":"https://e.example/i.png","link_url":"https://e.example/sale?a=1&b=2"}})");
}

BOOST_AUTO_TEST_CASE(button_text_is_in_the_answer_only_when_the_popup_has_one) {
  Popup p = sample();
  BOOST_TEST(popup_answer(&p).find("button_text") == std::string::npos);
  p.button_text = "Shop \"now\"";
  BOOST_TEST(popup_answer(&p) ==
             R"({"popup":{"id":7,"title":"Sale","body":"Half off",)"
             R"("image_url":"https://e.example/i.png","link_url":"https://e.example/sale?a=1&b=2",)"
             R"("button_text":"Shop \"now\""}})");
}

BOOST_AUTO_TEST_CASE(popup_answer_escapes_quotes_backslashes_and_control_characters) {
  Popup p = sample();
  p.title = "Say \"hi\"";
  p.body = "a\\b\nc\td\x01" "e\x1f";
  std::string s = popup_answer(&p);
  BOOST_TEST(s.find(R"("title":"Say \"hi\"")") != std::string::npos, s);
  BOOST_TEST(s.find(R"("body":"a\\b\nc\td\u0001e\u001f")") != std::string::npos, s);
  auto v = boost::json::parse(s);
  BOOST_TEST(v.at("popup").at("title").as_string() == p.title);
  BOOST_TEST(v.at("popup").at("body").as_string() == p.body);
}

BOOST_AUTO_TEST_CASE(popup_answer_keeps_utf8_text_intact) {
  Popup p = sample();
  p.title = "Gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80";  // Grüße € 😀
  std::string s = popup_answer(&p);
  BOOST_TEST(s.find(p.title) != std::string::npos, s);
  BOOST_TEST(boost::json::parse(s).at("popup").at("title").as_string() == p.title);
}

BOOST_AUTO_TEST_CASE(popup_answer_cannot_be_broken_out_of) {
  Popup p = sample();
  p.title = R"(x","id":99,"y":")";
  p.link_url = "</script><script>alert(1)</script>";
  auto v = boost::json::parse(popup_answer(&p));
  BOOST_TEST(v.at("popup").at("id").as_int64() == 7);
  BOOST_TEST(v.at("popup").as_object().size() == 5u);
  BOOST_TEST(v.at("popup").at("title").as_string() == p.title);
}

// What popup_answer wrote while it built a boost::json::object: the text
// it writes now must be the same, byte for byte.
std::string answer_as_json_object(const Popup& p) {
  boost::json::object o;
  o["id"] = p.id;
  o["title"] = p.title;
  o["body"] = p.body;
  o["image_url"] = p.image_url;
  o["link_url"] = p.link_url;
  if (!p.button_text.empty()) o["button_text"] = p.button_text;
  boost::json::object root;
  root["popup"] = std::move(o);
  return boost::json::serialize(root);
}

BOOST_AUTO_TEST_CASE(popup_answer_is_what_boost_json_writes_for_any_text) {
  Popup p = sample();
  BOOST_TEST(popup_answer(&p) == answer_as_json_object(p));
  uint32_t x = 12345;
  auto next = [&x] { return x = x * 1103515245u + 12345u; };
  for (int round = 0; round < 200; ++round) {
    // Lengths past the 256-byte pieces the text is copied in; every byte
    // value, control characters and invalid UTF-8 included.
    for (std::string* f : {&p.title, &p.body, &p.image_url, &p.link_url, &p.button_text}) {
      f->assign(next() % 700, ' ');
      for (char& c : *f) c = static_cast<char>(next() >> 16);
    }
    p.id = static_cast<int64_t>(next());
    if (round % 3 == 0) p.button_text.clear();
    BOOST_TEST_REQUIRE(popup_answer(&p) == answer_as_json_object(p));
  }
}

BOOST_AUTO_TEST_CASE(operator_label_is_not_returned) {
  Popup p = sample();
  BOOST_TEST(popup_answer(&p).find("internal label") == std::string::npos);
  BOOST_TEST(popup_answer(&p).find("\"name\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(error_answer_is_code_and_message_escaped) {
  BOOST_TEST(error_answer(Error{"not_found", "no popup 7"}) ==
             R"({"error":"not_found","message":"no popup 7"})");
  BOOST_TEST(error_answer(Error{"bad_request", "uid is \"x\"\n"}) ==
             R"({"error":"bad_request","message":"uid is \"x\"\n"})");
}

BOOST_AUTO_TEST_CASE(ok_answer_is_ok_true) { BOOST_TEST(ok_answer() == R"({"ok":true})"); }

BOOST_AUTO_TEST_CASE(status_for_each_error_code) {
  BOOST_TEST(status_for("bad_request") == 400);
  BOOST_TEST(status_for("not_found") == 404);
  BOOST_TEST(status_for("method_not_allowed") == 405);
  BOOST_TEST(status_for("payload_too_large") == 413);
  BOOST_TEST(status_for("unavailable") == 503);
  BOOST_TEST(status_for("whatever") == 500);
  BOOST_TEST(status_for("") == 500);
  BOOST_TEST(status_for("Bad_Request") == 500);
}

BOOST_AUTO_TEST_CASE(reason_phrases) {
  struct Case {
    int status;
    const char* phrase;
  };
  for (auto c : {Case{200, "OK"}, Case{202, "Accepted"}, Case{400, "Bad Request"},
                 Case{404, "Not Found"}, Case{405, "Method Not Allowed"},
                 Case{413, "Payload Too Large"}, Case{500, "Internal Server Error"},
                 Case{502, "Bad Gateway"}, Case{503, "Service Unavailable"},
                 Case{504, "Gateway Timeout"}})
    BOOST_TEST(std::string(reason_phrase(c.status)) == c.phrase, c.status);
  BOOST_TEST(reason_phrase(299) != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
