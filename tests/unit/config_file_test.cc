#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "lib/config_file.h"

using namespace popup;

namespace {

const ArgSpec kDaemon{"popupd", "usage: popupd\n", true, {}, true};
const ArgSpec kTool{"popupctl", "usage: popupctl\n", false, {"publish", "show"}};

// Parses the words as argv[1..] (argv[0] is the program).
Result<Args> parse(const ArgSpec& spec, std::initializer_list<const char*> words) {
  std::vector<const char*> argv{spec.program};
  argv.insert(argv.end(), words);
  return parse_args(static_cast<int>(argv.size()), argv.data(), spec);
}

// The message of a parse that must have failed.
std::string refusal(const ArgSpec& spec, std::initializer_list<const char*> words) {
  auto r = parse(spec, words);
  if (r.ok()) return "(accepted)";
  if (r.error().code != "bad_request") return "(code " + r.error().code + ")";
  return r.error().message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(config_is_taken_in_all_three_spellings) {
  for (auto words : {std::initializer_list<const char*>{"--config", "a.conf"},
                     std::initializer_list<const char*>{"-c", "a.conf"},
                     std::initializer_list<const char*>{"--config=a.conf"}}) {
    auto r = parse(kDaemon, words);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r.value().config == "a.conf");
    BOOST_TEST(!r.value().check);
    BOOST_TEST(!r.value().help);
  }
}

BOOST_AUTO_TEST_CASE(check_is_taken_long_and_short_before_or_after_config) {
  auto a = parse(kDaemon, {"--check", "--config", "a.conf"});
  auto b = parse(kDaemon, {"-c", "a.conf", "-t"});
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(a.value().check);
  BOOST_TEST(b.value().check);
}

BOOST_AUTO_TEST_CASE(an_unknown_option_is_refused_and_named) {
  BOOST_TEST(refusal(kDaemon, {"--config", "a.conf", "--bogus"}) == "unknown option --bogus");
  BOOST_TEST(refusal(kDaemon, {"-x", "--config", "a.conf"}) == "unknown option -x");
  // A near miss of a real option is not taken for it.
  BOOST_TEST(refusal(kDaemon, {"--config", "a.conf", "--checks"}) == "unknown option --checks");
  BOOST_TEST(refusal(kDaemon, {"--configs=a.conf"}) == "unknown option --configs=a.conf");
}

BOOST_AUTO_TEST_CASE(check_is_unknown_to_a_program_without_it) {
  BOOST_TEST(refusal(kTool, {"--config", "a.conf", "--check", "publish"}) ==
             "unknown option --check");
}

BOOST_AUTO_TEST_CASE(a_stray_word_is_refused) {
  BOOST_TEST(refusal(kDaemon, {"--config", "a.conf", "extra"}) == "unexpected argument extra");
  BOOST_TEST(refusal(kDaemon, {"--config", "a.conf", "-"}) == "unexpected argument -");
}

BOOST_AUTO_TEST_CASE(config_without_a_file_is_refused) {
  BOOST_TEST(refusal(kDaemon, {"--config"}) == "--config needs a FILE");
  BOOST_TEST(refusal(kDaemon, {"-c"}) == "-c needs a FILE");
  BOOST_TEST(refusal(kDaemon, {"--config="}) == "--config needs a FILE");
  BOOST_TEST(refusal(kDaemon, {}) == "--config FILE is required");
  BOOST_TEST(refusal(kDaemon, {"--check"}) == "--config FILE is required");
}

BOOST_AUTO_TEST_CASE(an_option_given_twice_is_refused) {
  BOOST_TEST(refusal(kDaemon, {"-c", "a.conf", "--config", "b.conf"}) == "--config given twice");
  BOOST_TEST(refusal(kDaemon, {"-c", "a.conf", "-t", "--check"}) == "--check given twice");
}

BOOST_AUTO_TEST_CASE(help_needs_no_config_but_is_still_strict) {
  auto r = parse(kDaemon, {"-h"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().help);
  BOOST_TEST(parse(kTool, {"--help"}).ok());
  BOOST_TEST(refusal(kDaemon, {"--help", "--bogus"}) == "unknown option --bogus");
}

BOOST_AUTO_TEST_CASE(a_tool_takes_exactly_one_of_its_commands_anywhere) {
  auto a = parse(kTool, {"--config", "a.conf", "publish"});
  auto b = parse(kTool, {"show", "-c", "a.conf"});
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(a.value().command == "publish");
  BOOST_TEST(b.value().command == "show");
  BOOST_TEST(refusal(kTool, {"--config", "a.conf"}) == "a command is required");
  BOOST_TEST(refusal(kTool, {"--config", "a.conf", "delete"}) == "unexpected argument delete");
  BOOST_TEST(refusal(kTool, {"-c", "a.conf", "publish", "show"}) ==
             "one command at a time (got publish and show)");
}

BOOST_AUTO_TEST_CASE(the_config_file_name_may_start_with_a_dash) {
  // The word after --config is its value, whatever it looks like.
  auto r = parse(kDaemon, {"--config", "-odd.conf"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().config == "-odd.conf");
}

BOOST_AUTO_TEST_CASE(version_is_taken_by_a_program_with_a_version_only) {
  const ArgSpec versioned{"popupd", "usage: popupd\n", true, {}, true, "0.1.0+gabc"};
  for (const char* w : {"--version", "-V"}) {
    auto r = parse(versioned, {w});
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r.value().version);
  }
  BOOST_TEST(refusal(versioned, {"--version", "-V"}) == "--version given twice");
  BOOST_TEST(refusal(kDaemon, {"--version"}) == "unknown option --version");
}

BOOST_AUTO_TEST_CASE(print_config_stands_alone) {
  auto r = parse(kDaemon, {"--print-config"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().print_config);
  BOOST_TEST(r.value().config.empty());
  BOOST_TEST(refusal(kDaemon, {"--print-config", "--config", "a.conf"}) ==
             "--print-config takes no --config: it prints every key's default");
  BOOST_TEST(refusal(kDaemon, {"--print-config", "--check"}) ==
             "--print-config and --check: one at a time");
  BOOST_TEST(refusal(kDaemon, {"--print-config", "--print-config"}) ==
             "--print-config given twice");
  BOOST_TEST(refusal(kTool, {"--print-config"}) == "unknown option --print-config");
}

BOOST_AUTO_TEST_SUITE_END()

// A temporary folder with files in it, removed at the end of the test.
struct TempFiles {
  std::string dir;
  std::vector<std::string> made;
  TempFiles() {
    char tmpl[] = "/tmp/popup-conf-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~TempFiles() {
    for (const auto& f : made) unlink(f.c_str());
    rmdir(dir.c_str());
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    made.push_back(path);
    return path;
  }
};

BOOST_AUTO_TEST_SUITE(config_file_include)

BOOST_AUTO_TEST_CASE(an_included_file_is_read_in_place_and_later_lines_win) {
  TempFiles t;
  t.write("local.conf", "workers = 7\nlog_file = /tmp/x.log\n");
  auto top = t.write("popup.conf", "workers = 3\nthreads = 4\ninclude = local.conf\n");
  auto s = read_settings_file(top);
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().workers == 7);  // the include comes after workers = 3
  BOOST_TEST(s.value().threads == 4);
  BOOST_TEST(s.value().log_file == "/tmp/x.log");
  // A line after the include overrides it; an absolute path works too.
  auto after = t.write("after.conf", "include=" + t.dir + "/local.conf\nworkers = 2\n");
  BOOST_REQUIRE(read_settings_file(after).ok());
  BOOST_TEST(read_settings_file(after).value().workers == 2);
}

BOOST_AUTO_TEST_CASE(an_error_names_the_file_and_its_own_line) {
  TempFiles t;
  t.write("local.conf", "# operator\nworkers = many\n");
  auto top = t.write("popup.conf", "threads = 4\n\n\ninclude = local.conf\n");
  auto s = read_settings_file(top);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.error().message.find(t.dir + "/local.conf: line 2: ") == 0);
  t.write("good.conf", "workers = 2\n");
  auto bad_top = t.write("bad.conf", "include = good.conf\nnope = 1\n");
  BOOST_TEST(read_settings_file(bad_top).error().message.find(bad_top + ": line 2: ") == 0);
}

BOOST_AUTO_TEST_CASE(a_missing_include_and_a_nested_one_are_refused) {
  TempFiles t;
  auto top = t.write("popup.conf", "include = absent.conf\n");
  auto s = read_settings_file(top);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.error().message.find(t.dir + "/absent.conf: cannot read: ") == 0);
  t.write("inner.conf", "workers = 1\n");
  t.write("middle.conf", "include = inner.conf\n");
  auto nested = t.write("nested.conf", "include = middle.conf\n");
  auto n = read_settings_file(nested);
  BOOST_REQUIRE(!n.ok());
  BOOST_TEST(n.error().message == t.dir + "/middle.conf: include is allowed only in " + nested);
  BOOST_TEST(!read_settings_file(t.dir + "/none.conf").ok());
}

BOOST_AUTO_TEST_SUITE_END()
