#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "ctl/args.h"

using namespace popup;

namespace {
const std::vector<CtlCommand> kCommands = {
    {"apply", 1, 100, {}, {"--dry-run"}},
    {"show", 1, 1, {}, {}},
    {"explain", 0, 0, {"--uid", "--version", "--at"}, {}},
    {"report", 0, 0, {"--from", "--popup"}, {"--csv"}},
    {"schedule", 1, 1, {"--from", "--until"}, {},
     {{"--from", CtlValue::time_or_none}, {"--until", CtlValue::time_or_none}}},
    {"chart", 1, 1, {"--from", "--popup"}, {}, {{"--from", CtlValue::date}, {"--popup", CtlValue::popup_id}}},
};
Result<CtlArgs> parse(std::vector<const char*> words) {
  words.insert(words.begin(), "popupctl");
  return parse_ctl_args(static_cast<int>(words.size()), words.data(), kCommands);
}
std::string problem(std::vector<const char*> words) {
  auto r = parse(std::move(words));
  return r.ok() ? "" : r.error().message;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(ctl_args)

BOOST_AUTO_TEST_CASE(global_options_stand_anywhere) {
  auto r = parse({"apply", "a.json", "--json", "-c", "x.conf", "b.json", "--dry-run"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().command == "apply");
  BOOST_TEST(r.value().config == "x.conf");
  BOOST_TEST(r.value().json);
  BOOST_TEST(r.value().has("--dry-run"));
  BOOST_TEST((r.value().words == std::vector<std::string>{"a.json", "b.json"}));
}

BOOST_AUTO_TEST_CASE(values_come_after_a_space_or_an_equals_sign) {
  auto r = parse({"--config=c", "report", "--from", "2027-01-01", "--popup=7", "--csv"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().get("--from") == "2027-01-01");
  BOOST_TEST(r.value().get("--popup") == "7");
  BOOST_TEST(r.value().get("--until", "none") == "none");
}

BOOST_AUTO_TEST_CASE(help_and_version_need_no_config_or_command) {
  BOOST_TEST(parse({"--help"}).value().help);
  BOOST_TEST(parse({"help"}).value().help);
  BOOST_TEST(parse({"show", "-h"}).value().help);
  BOOST_TEST(parse({"-V"}).value().version);
}

BOOST_AUTO_TEST_CASE(a_command_may_claim_a_global_name) {
  auto r = parse({"-c", "c", "explain", "--uid", "u", "--version", "2.1"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(!r.value().version);
  BOOST_TEST(r.value().get("--version") == "2.1");
}

BOOST_AUTO_TEST_CASE(double_dash_ends_the_options) {
  auto r = parse({"-c", "c", "apply", "--", "--odd-name.json"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().words.at(0) == "--odd-name.json");
}

BOOST_AUTO_TEST_CASE(usage_errors_name_the_problem) {
  BOOST_TEST(problem({"-c", "c"}) == "a command is required");
  BOOST_TEST(problem({"-c", "c", "frob"}) == "unknown command frob");
  BOOST_TEST(problem({"show", "1"}) == "--config FILE is required");
  BOOST_TEST(problem({"-c", "c", "show"}) == "show: too few arguments");
  BOOST_TEST(problem({"-c", "c", "show", "1", "2"}) == "show: unexpected argument 2");
  BOOST_TEST(problem({"-c", "c", "show", "1", "--csv"}) == "unknown option --csv for show");
  BOOST_TEST(problem({"-c", "c", "report", "--from"}) == "--from needs a value");
  BOOST_TEST(problem({"-c", "c", "report", "--csv", "--csv"}) == "--csv given twice");
  BOOST_TEST(problem({"-c", "c", "-c", "d", "show", "1"}) == "--config given twice");
  BOOST_TEST(problem({"-c"}) == "--config needs a FILE");
  BOOST_TEST(problem({"--json=1", "show", "1"}) == "--json takes no value");
}

BOOST_AUTO_TEST_CASE(option_values_of_the_wrong_kind_are_usage_errors) {
  BOOST_TEST(problem({"-c", "c", "schedule", "1", "--from", "2027-01-01T00:00:00Z", "--until", "none"}) == "");
  BOOST_TEST(problem({"-c", "c", "schedule", "1", "--from", "tomorrow"}) ==
             "--from: not an ISO-8601 time with a zone (2026-12-01T09:00:00+01:00) or none: tomorrow");
  BOOST_TEST(problem({"-c", "c", "schedule", "1", "--until=2027-01-01"}).find("--until: not an ISO-8601 time") == 0u);
  BOOST_TEST(problem({"-c", "c", "chart", "1", "--from", "2027-01-01", "--popup", "4294967295"}) == "");
  BOOST_TEST(problem({"-c", "c", "chart", "1", "--from", "01/02/2027"}) == "--from: not a date (2026-12-01): 01/02/2027");
  BOOST_TEST(problem({"-c", "c", "chart", "1", "--popup", "0"}) == "--popup: not a popup id (1 to 4294967295): 0");
  BOOST_TEST(problem({"-c", "c", "chart", "1", "--popup", "4294967296"}).find("--popup: not a popup id") == 0u);
  // Options without a kind take any text.
  BOOST_TEST(problem({"-c", "c", "report", "--from", "whatever"}) == "");
}

BOOST_AUTO_TEST_CASE(by_names_the_operator_anywhere_once) {
  auto r = parse({"--by", "alice", "-c", "c", "show", "1"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().by == "alice");
  BOOST_TEST(parse({"-c", "c", "show", "1", "--by=Bob Smith"}).value().by == "Bob Smith");
  BOOST_TEST(parse({"-c", "c", "show", "1"}).value().by == "");
  BOOST_TEST(problem({"-c", "c", "--by", "a", "--by", "b", "show", "1"}) == "--by given twice");
  BOOST_TEST(problem({"-c", "c", "show", "1", "--by"}) == "--by needs a NAME");
  BOOST_TEST(problem({"-c", "c", "--by=", "show", "1"}) == "--by: the name must not be empty");
  BOOST_TEST(problem({"-c", "c", "--by", "a\nb", "show", "1"}) == "--by: the name must not contain control characters");
  BOOST_TEST(operator_name_problem(std::string(65, 'x')) == "the name must be at most 64 bytes");
  BOOST_TEST(operator_name_problem("   ") == "the name must not be empty");
}

BOOST_AUTO_TEST_CASE(a_usage_error_is_one_line_pointing_at_help) {
  BOOST_TEST(usage_error("unknown command frob") == "popupctl: unknown command frob (see popupctl --help)\n");
}

BOOST_AUTO_TEST_SUITE_END()
